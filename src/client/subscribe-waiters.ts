import { PushError } from './push-error.js';

/** Someone awaiting a room's join. */
interface Waiter {
  resolve: () => void;
  reject: (error: PushError) => void;
}

/**
 * The callers awaiting {@link PushClient.subscribe}, per room: each is answered once, when the
 * room is joined or dropped, or rejected with `timeout` after `timeoutMs` (the client goes on
 * joining the room; only that caller stops waiting).
 */
export class SubscribeWaiters {
  private readonly rooms = new Map<string, Set<Waiter>>();

  constructor(private readonly timeoutMs: number) {}

  /** Resolves once `room` is joined; rejects when it is dropped, or after the timeout. */
  wait(room: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let waiters = this.rooms.get(room);
      if (waiters === undefined) {
        waiters = new Set();
        this.rooms.set(room, waiters);
      }
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.rooms.get(room)?.delete(waiter);
        reject(
          new PushError(
            'timeout',
            `no answer from the server within ${this.timeoutMs} ms; still trying to join ${room} (unsubscribe to stop)`,
          ),
        );
      }, this.timeoutMs);
      waiters.add(waiter);
    });
  }

  /** Answers everyone awaiting `room`: joined, or (with `error`) dropped. */
  settle(room: string, error?: PushError): void {
    const waiters = this.rooms.get(room);
    if (waiters === undefined) return;
    this.rooms.delete(room);
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }

  /** Rejects everyone awaiting any room with `error`. */
  settleAll(error: PushError): void {
    for (const room of [...this.rooms.keys()]) this.settle(room, error);
  }
}
