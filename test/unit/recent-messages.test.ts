import { describe, expect, it } from 'vitest';
import type { RoomMessage } from '../../src/cluster/room-log.js';
import { RecentMessages } from '../../src/realtime/recent-messages.js';

const message = (room: string, offset: number, epoch = 'E1'): RoomMessage => ({
  room,
  event: 'message',
  envelope: { id: `${room}-${offset}`, room, data: offset, node: 'n', ts: 0, offset, epoch },
});
const sizeOf = (m: RoomMessage) => JSON.stringify(m.envelope).length;
const offsets = (slice: { messages: RoomMessage[] } | undefined) =>
  slice?.messages.map((m) => m.envelope.offset);

describe('RecentMessages', () => {
  it('serves what followed a position it reaches back to, and nothing it does not hold', () => {
    const recent = new RecentMessages({ messages: 5, bytes: 1e6 }, 1e6, 60_000);
    for (let offset = 1; offset <= 8; offset++) recent.add(message('r', offset));
    // Holds 4-8.
    expect(offsets(recent.after('r', { offset: 5, epoch: 'E1' }))).toEqual([6, 7, 8]);
    expect(offsets(recent.after('r', { offset: 3, epoch: 'E1' }))).toEqual([4, 5, 6, 7, 8]);
    expect(recent.after('r', { offset: 8, epoch: 'E1' })).toEqual({
      position: { offset: 8, epoch: 'E1' },
      messages: [],
    });
    expect(recent.after('r', { offset: 2, epoch: 'E1' })).toBeUndefined();
    expect(recent.after('r', { offset: 9, epoch: 'E1' })).toBeUndefined();
    expect(recent.after('r', { offset: 5, epoch: 'E0' })).toBeUndefined();
    expect(recent.after('other', { offset: 0, epoch: 'E1' })).toBeUndefined();
  });

  it('starts afresh when a message does not follow the last one', () => {
    const recent = new RecentMessages({ messages: 10, bytes: 1e6 }, 1e6, 60_000);
    recent.add(message('r', 1));
    recent.add(message('r', 2));
    recent.add(message('r', 5));
    expect(recent.after('r', { offset: 2, epoch: 'E1' })).toBeUndefined();
    expect(offsets(recent.after('r', { offset: 4, epoch: 'E1' }))).toEqual([5]);
    recent.add(message('r', 1, 'E2'));
    expect(recent.after('r', { offset: 4, epoch: 'E1' })).toBeUndefined();
    expect(offsets(recent.after('r', { offset: 0, epoch: 'E2' }))).toEqual([1]);
    expect(recent.bytes).toBe(sizeOf(message('r', 1, 'E2')));
  });

  it('stays within its budgets: per room in messages and bytes, in all in bytes, dropping the rooms with the least recent messages first', () => {
    const one = sizeOf(message('a', 1));
    const recent = new RecentMessages({ messages: 10, bytes: 4 * one }, 7 * one, 60_000);
    for (let offset = 1; offset <= 5; offset++) recent.add(message('a', offset));
    // Four fit in a room's bytes.
    expect(offsets(recent.after('a', { offset: 1, epoch: 'E1' }))).toEqual([2, 3, 4, 5]);
    for (let offset = 1; offset <= 4; offset++) recent.add(message('b', offset));
    // Eight would exceed the node's seven: a, the room with the least recent message, goes.
    expect(recent.bytes).toBeLessThanOrEqual(7 * one);
    expect(recent.after('a', { offset: 4, epoch: 'E1' })).toBeUndefined();
    expect(offsets(recent.after('b', { offset: 3, epoch: 'E1' }))).toEqual([4]);
    // A message larger than a room's bytes is still kept alone.
    const big: RoomMessage = { ...message('c', 1), bytes: 10 * one };
    const roomy = new RecentMessages({ messages: 10, bytes: 4 * one }, 100 * one, 60_000);
    roomy.add(big);
    expect(offsets(roomy.after('c', { offset: 0, epoch: 'E1' }))).toEqual([1]);
  });

  it('answers nothing once the history would have expired, and holds nothing when history is off', () => {
    let now = 0;
    const recent = new RecentMessages({ messages: 10, bytes: 1e6 }, 1e6, 1000, () => now);
    recent.add(message('r', 1));
    now = 1001;
    expect(recent.after('r', { offset: 0, epoch: 'E1' })).toBeUndefined();
    const off = new RecentMessages({ messages: 0, bytes: 1e6 }, 1e6, 1000);
    off.add(message('r', 1));
    expect(off.bytes).toBe(0);
    expect(off.after('r', { offset: 0, epoch: 'E1' })).toBeUndefined();
  });
});
