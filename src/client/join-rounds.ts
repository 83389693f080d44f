import { backoffDelay } from './backoff.js';
import { type EventBudget, EventPacer } from './event-pacer.js';
import type { GapCause } from './room-sequence.js';

/** Why a room is being joined on the current connection. */
export type JoinCause = 'subscribe' | 'resubscribe' | GapCause;

/** A `subscribe` on the current connection, sent again until the node answers. */
export interface JoinRound {
  readonly cause: JoinCause;
  /** How many times it was sent (or refused with a code that passes). */
  attempts: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The longest a join waits for its answer before it is sent again (never shorter than the ack timeout). */
const MAX_JOIN_WAIT_MS = 60_000;
/** The longest wait before a refusal that passes is asked again. */
const MAX_RETRY_DELAY_MS = 30_000;

/**
 * The `subscribe`s outstanding on the current connection, at most one per room: each sent within
 * the connection's event budget (rejoining many rooms is never refused or cut off), and sent
 * again until the node answers, the wait doubling each time from the ack timeout up to a minute
 * (the answer to any of them will do). The client decides what an answer means.
 */
export class JoinRounds {
  private readonly rounds = new Map<string, JoinRound>();
  private pacer: EventPacer | undefined;

  /**
   * @param ackTimeoutMs - the first wait for an answer.
   * @param emit - sends `room`'s `subscribe` for `round` (its answer goes to the client).
   */
  constructor(
    private readonly ackTimeoutMs: number,
    private readonly emit: (room: string, round: JoinRound) => void,
  ) {}

  /** The round open for `room`, if any. */
  get(room: string): JoinRound | undefined {
    return this.rounds.get(room);
  }

  /** Whether `round` is still the one open for `room` (an answer to an older one is stale). */
  isOpen(room: string, round: JoinRound): boolean {
    return this.rounds.get(room) === round;
  }

  /** The rounds open, by room (a copy). */
  snapshot(): Map<string, JoinRound> {
    return new Map(this.rounds);
  }

  /** A new connection's event budget (from its welcome): sends are paced within it. */
  paceWithin(budget: EventBudget): void {
    this.pacer?.stop();
    this.pacer = new EventPacer(budget);
  }

  /** Opens a round for `room` (not sent yet); `undefined` when one is open already. */
  open(room: string, cause: JoinCause): JoinRound | undefined {
    if (this.rounds.has(room)) return undefined;
    const round: JoinRound = { cause, attempts: 0, timer: undefined };
    this.rounds.set(room, round);
    return round;
  }

  /** Sends the round's `subscribe` (within the budget) and again should no answer come. */
  send(room: string, round: JoinRound): void {
    if (!this.isOpen(room, round)) return;
    const send = () => {
      if (!this.isOpen(room, round)) return;
      round.attempts += 1;
      this.emit(room, round);
      const wait = Math.min(
        this.ackTimeoutMs * 2 ** (round.attempts - 1),
        Math.max(this.ackTimeoutMs, MAX_JOIN_WAIT_MS),
      );
      clearTimeout(round.timer);
      round.timer = setTimeout(() => this.send(room, round), wait);
    };
    if (this.pacer === undefined) send();
    else this.pacer.schedule(send);
  }

  /** The node could not serve it just now (a refusal that passes): sent again after a backoff. */
  retryLater(room: string, round: JoinRound): void {
    if (!this.isOpen(room, round)) return;
    clearTimeout(round.timer);
    round.timer = setTimeout(
      () => this.send(room, round),
      backoffDelay(round.attempts, 500, MAX_RETRY_DELAY_MS),
    );
  }

  /** Closes `room`'s round (answered, refused, or no longer wanted); returns it. */
  close(room: string): JoinRound | undefined {
    const round = this.rounds.get(room);
    if (round === undefined) return undefined;
    clearTimeout(round.timer);
    this.rounds.delete(room);
    return round;
  }

  /** The connection is gone: its rounds will never be answered. Returns the rooms they were for. */
  abandon(): string[] {
    this.pacer?.stop();
    this.pacer = undefined;
    const rooms = [...this.rounds.keys()];
    for (const round of this.rounds.values()) clearTimeout(round.timer);
    this.rounds.clear();
    return rooms;
  }
}
