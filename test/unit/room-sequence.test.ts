import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type RoomArrival,
  RoomSequence,
  type SequenceStep,
} from '../../src/client/room-sequence.js';

const ROOM = 'r';
const arrival = (offset: number, epoch = 'E1'): RoomArrival => ({
  event: 'message',
  envelope: { id: `${epoch}-${offset}`, room: ROOM, data: offset, node: 'n', ts: 0, offset, epoch },
});
const offsetsOf = (step: SequenceStep) => step.deliver.map(({ envelope }) => envelope.offset);

describe('RoomSequence', () => {
  it('hands over in order whatever order messages arrive in, asking to recover at every gap (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 80 }),
        (arrivals) => {
          const sequence = new RoomSequence();
          const delivered: number[] = [];
          const take = (step: SequenceStep) => {
            for (const offset of offsetsOf(step)) delivered.push(offset ?? -1);
            return step;
          };
          let newest = 0;
          for (const offset of arrivals) {
            newest = Math.max(newest, offset);
            let step = take(sequence.receive(arrival(offset)));
            // A node answers each recovery: it replays what followed the client's position up to
            // the room's newest message, then acknowledges.
            while (step.gap !== undefined) {
              sequence.joinSent();
              const from = (sequence.position?.offset ?? 0) + 1;
              for (let missing = from; missing <= newest; missing++) {
                take(sequence.receive(arrival(missing)));
              }
              step = take(
                sequence.joined({
                  ok: true,
                  room: ROOM,
                  offset: newest,
                  epoch: 'E1',
                  recovered: true,
                }),
              );
            }
          }
          const first = arrivals[0] ?? 0;
          const expected = Array.from({ length: newest - first + 1 }, (_, i) => first + i);
          expect(delivered).toEqual(expected.filter((offset) => offset >= first));
          expect(sequence.heldCount).toBe(0);
        },
      ),
    );
  });

  it('drops duplicates and what is not newer', () => {
    const sequence = new RoomSequence();
    expect(offsetsOf(sequence.receive(arrival(5)))).toEqual([5]);
    expect(offsetsOf(sequence.receive(arrival(5)))).toEqual([]);
    expect(offsetsOf(sequence.receive(arrival(4)))).toEqual([]);
    expect(offsetsOf(sequence.receive(arrival(6)))).toEqual([6]);
  });

  it('holds what comes while a join is outstanding, and hands it over after the answer', () => {
    const sequence = new RoomSequence();
    sequence.receive(arrival(1));
    sequence.joinSent();
    expect(sequence.receive(arrival(4))).toEqual({ deliver: [] });
    expect(offsetsOf(sequence.receive(arrival(2)))).toEqual([2]);
    expect(offsetsOf(sequence.receive(arrival(3)))).toEqual([3, 4]);
    expect(
      sequence.joined({ ok: true, room: ROOM, offset: 4, epoch: 'E1', recovered: true }),
    ).toEqual({
      deliver: [],
      recovered: true,
    });
  });

  it('after a recovery that failed, hands over what it held and goes on from where the room stands', () => {
    const sequence = new RoomSequence();
    sequence.receive(arrival(1));
    expect(sequence.receive(arrival(1500)).gap).toBe('offsets');
    sequence.joinSent();
    sequence.receive(arrival(1501));
    const step = sequence.joined({
      ok: true,
      room: ROOM,
      offset: 1502,
      epoch: 'E1',
      recovered: false,
    });
    expect(offsetsOf(step)).toEqual([1500, 1501]);
    expect(step.recovered).toBe(false);
    expect(sequence.position).toEqual({ offset: 1502, epoch: 'E1' });
    expect(offsetsOf(sequence.receive(arrival(1502)))).toEqual([]);
    expect(offsetsOf(sequence.receive(arrival(1503)))).toEqual([1503]);
  });

  it('says when the epoch changes under a live subscription, and recovers the new epoch from its start', () => {
    const sequence = new RoomSequence();
    sequence.receive(arrival(7));
    const step = sequence.receive(arrival(3, 'E2'));
    expect(step).toMatchObject({ epochChanged: true, gap: 'offsets', deliver: [] });
    expect(sequence.position).toEqual({ offset: 0, epoch: 'E2' });
    // Another new epoch before that recovery: what was held of E2 (its 3) is handed over first.
    const fresh = sequence.receive(arrival(1, 'E3'));
    expect(fresh).toMatchObject({ epochChanged: true });
    expect(fresh.deliver.map(({ envelope }) => `${envelope.epoch}:${envelope.offset}`)).toEqual([
      'E2:3',
      'E3:1',
    ]);
  });

  it('takes the position a fresh join answers when it has none, never moving back', () => {
    const sequence = new RoomSequence();
    sequence.joinSent();
    expect(sequence.joined({ ok: true, room: ROOM, offset: 10, epoch: 'E1' })).toEqual({
      deliver: [],
    });
    expect(sequence.position).toEqual({ offset: 10, epoch: 'E1' });
    const other = new RoomSequence();
    other.joinSent();
    other.receive(arrival(9));
    other.joined({ ok: true, room: ROOM, offset: 10, epoch: 'E1' });
    // 10 is on its way live: the client waits for it rather than skipping it.
    expect(other.position).toEqual({ offset: 9, epoch: 'E1' });
  });
});
