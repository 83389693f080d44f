import type { StatusChange } from './connection-status.js';

/** How rejoining one room after a reconnect went. */
export type RejoinOutcome = 'joined' | 'recovered' | 'notRecovered' | 'failed';

/** The `resubscribed` change: every room rejoined after a reconnect, and how each went. */
export type ResubscribedChange = Extract<StatusChange, { kind: 'resubscribed' }>;

/**
 * The rooms a client is joining again after a reconnect, each noted as it answers (or as the
 * application leaves it), until all have: then the `resubscribed` change that tells how it went.
 */
export class Resubscription {
  private readonly pending: Set<string>;
  private readonly change: ResubscribedChange = {
    kind: 'resubscribed',
    rooms: [],
    failed: [],
    recovered: [],
    notRecovered: [],
  };

  constructor(rooms: Iterable<string>) {
    this.pending = new Set(rooms);
  }

  /**
   * Notes how rejoining `room` went (a room not being rejoined is ignored); returns the change
   * once every room has answered.
   */
  settle(room: string, outcome: RejoinOutcome): ResubscribedChange | undefined {
    if (!this.pending.delete(room)) return undefined;
    const { change } = this;
    if (outcome === 'failed') change.failed.push(room);
    else change.rooms.push(room);
    if (outcome === 'recovered') change.recovered.push(room);
    if (outcome === 'notRecovered') change.notRecovered.push(room);
    return this.done();
  }

  /** `room` is no longer followed: not waited for; returns the change if it was the last. */
  drop(room: string): ResubscribedChange | undefined {
    return this.pending.delete(room) ? this.done() : undefined;
  }

  private done(): ResubscribedChange | undefined {
    return this.pending.size === 0 ? this.change : undefined;
  }
}
