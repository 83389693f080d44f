import type { Envelope, RoomAck, RoomPosition } from '../protocol/index.js';

/** A room message as the client receives it: its event name and envelope. */
export interface RoomArrival {
  event: string;
  envelope: Envelope;
}

/** Why a room's messages stopped following on: a missing offset, or a new epoch. */
export type GapCause = 'offsets' | 'epoch';

/** What the client must do after a room message arrived or a join was answered. */
export interface SequenceStep {
  /** Messages to hand to the application now, in offset order. */
  deliver: RoomArrival[];
  /**
   * Set when the room needs a recovery (`subscribe` since {@link RoomSequence.position}): an offset
   * was skipped, or the room's epoch changed under a live subscription.
   */
  gap?: GapCause;
  /**
   * Set when a join `since` a position was answered: whether the node replayed everything
   * missed (`true`), or the history no longer reached back (`false`: the application should
   * reload the room's state).
   */
  recovered?: boolean;
  /** Set when the room's epoch changed under a live subscription: what came before may be lost. */
  epochChanged?: true;
}

/** Messages held ahead of a gap, at most; past it they are dropped and fetched again. */
const MAX_HELD = 10_000;

/**
 * One room's place in its message sequence, as a client sees it: the last offset handed to the
 * application (in the room's epoch), and the messages that arrived ahead of a gap, held until the
 * gap is filled, so that the application gets every message once, in offset order, or is told.
 *
 * It decides; it sends nothing. The client asks the node to recover (subscribe `since`
 * {@link position}) whenever a step says `gap`, and hands it the answer ({@link joined}).
 */
export class RoomSequence {
  private last: RoomPosition | undefined;
  private held: RoomArrival[] = [];
  /** A join (subscribe, with or without `since`) is outstanding: its answer settles the gaps. */
  private joining = false;

  /** The last offset handed to the application, in its epoch; `undefined` before any. */
  get position(): RoomPosition | undefined {
    return this.last === undefined ? undefined : { ...this.last };
  }

  /** How many messages wait ahead of a gap. */
  get heldCount(): number {
    return this.held.length;
  }

  /** A join is being sent: until its answer, messages past a gap are held without asking again. */
  joinSent(): void {
    this.joining = true;
  }

  /** The join was abandoned (connection lost, or refused): the next one starts afresh. */
  joinAbandoned(): void {
    this.joining = false;
  }

  /** A message of this room arrived. */
  receive(arrival: RoomArrival): SequenceStep {
    const { offset, epoch } = arrival.envelope;
    if (typeof offset !== 'number' || typeof epoch !== 'string') {
      return { deliver: [arrival] };
    }
    const last = this.last;
    if (last === undefined) {
      this.last = { offset, epoch };
      return { deliver: [arrival, ...this.drain()] };
    }
    if (epoch !== last.epoch) {
      if (this.joining) {
        // The pending answer says where the room stands (and whether it recovered).
        this.hold(arrival);
        return { deliver: [] };
      }
      // The room's history started afresh while this client was subscribed: messages of the old
      // epoch may be missing (told); what was held of it is handed over first, and the new epoch
      // is followed from its start (recovered, if this is not its first message).
      const old = this.releaseAll(epoch);
      const newer = old.filter(({ envelope }) => envelope.epoch === epoch);
      this.held = newer;
      this.last = { offset: 0, epoch };
      const step = this.receive(arrival);
      const deliver = [...old.filter(({ envelope }) => envelope.epoch !== epoch), ...step.deliver];
      return { ...step, deliver, epochChanged: true };
    }
    if (offset <= last.offset) return { deliver: [] };
    if (offset === last.offset + 1) {
      this.last = { offset, epoch };
      return { deliver: [arrival, ...this.drain()] };
    }
    this.hold(arrival);
    if (this.joining) return { deliver: [] };
    return { deliver: [], gap: 'offsets' };
  }

  /**
   * The node answered the join (`ack`): with `since`, after replaying what was missed. Takes the
   * room's position from it where the client has none, hands over what was held, and says whether
   * a gap remains.
   */
  joined(ack: Extract<RoomAck, { ok: true }>): SequenceStep {
    this.joining = false;
    const at: RoomPosition | undefined =
      ack.offset === undefined || ack.epoch === undefined
        ? undefined
        : { offset: ack.offset, epoch: ack.epoch };
    if (ack.recovered === false) {
      // What was missed is gone: everything held is handed over in order, and the client goes
      // on from the newest of it or from where the room stands, whichever is further.
      const deliver = this.releaseAll(at?.epoch);
      const newest = deliver.at(-1)?.envelope;
      this.last =
        newest?.offset !== undefined && newest.epoch !== undefined
          ? { offset: newest.offset, epoch: newest.epoch }
          : this.last;
      if (
        at !== undefined &&
        (this.last === undefined || this.last.epoch !== at.epoch || this.last.offset < at.offset)
      ) {
        this.last = at;
      }
      return { deliver, recovered: false };
    }
    if (this.last === undefined && at !== undefined) this.last = at;
    // A new epoch seen meanwhile (a fresh join only: a recovery would have said `recovered`).
    const deliver = this.drain();
    const step: SequenceStep = { deliver };
    if (ack.recovered === true) step.recovered = true;
    if (this.held.length > 0) step.gap = 'offsets';
    return step;
  }

  private hold(arrival: RoomArrival): void {
    if (this.held.length >= MAX_HELD) {
      // Held too long: dropped, and fetched again by the recovery (or reported lost by it).
      this.held = [];
    }
    this.held.push(arrival);
  }

  /** Takes from the held messages those that now follow on, in order; drops duplicates. */
  private drain(): RoomArrival[] {
    const last = this.last;
    if (this.held.length === 0 || last === undefined) return [];
    const deliver: RoomArrival[] = [];
    let at = last;
    const sameEpoch = this.held
      .filter(({ envelope }) => envelope.epoch === at.epoch)
      .sort((a, b) => (a.envelope.offset ?? 0) - (b.envelope.offset ?? 0));
    const others = this.held.filter(({ envelope }) => envelope.epoch !== at.epoch);
    let index = 0;
    for (; index < sameEpoch.length; index++) {
      const arrival = sameEpoch[index] as RoomArrival;
      const offset = arrival.envelope.offset ?? 0;
      if (offset <= at.offset) continue;
      if (offset !== at.offset + 1) break;
      deliver.push(arrival);
      at = { offset, epoch: at.epoch };
    }
    this.last = at;
    this.held = [...sameEpoch.slice(index), ...others];
    return deliver;
  }

  /**
   * Every held message, once each, in order: other epochs first, then `epoch` (the room's current
   * one), each by offset.
   */
  private releaseAll(epoch: string | undefined): RoomArrival[] {
    const rank = (arrival: RoomArrival) => (arrival.envelope.epoch === epoch ? 1 : 0);
    const sorted = this.held.sort(
      (a, b) => rank(a) - rank(b) || (a.envelope.offset ?? 0) - (b.envelope.offset ?? 0),
    );
    this.held = [];
    const seen = new Set<string>();
    const deliver: RoomArrival[] = [];
    for (const arrival of sorted) {
      const id = `${arrival.envelope.epoch}:${arrival.envelope.offset}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const last = this.last;
      if (
        last !== undefined &&
        last.epoch === arrival.envelope.epoch &&
        (arrival.envelope.offset ?? 0) <= last.offset
      ) {
        continue;
      }
      deliver.push(arrival);
    }
    return deliver;
  }
}
