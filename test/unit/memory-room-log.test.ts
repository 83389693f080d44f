import { describe, expect, it } from 'vitest';
import { MemoryRoomLog } from '../../src/cluster/memory/memory-room-log.js';
import { continuesFrom } from '../../src/cluster/room-log.js';

const envelope = (data: unknown) => ({
  id: `m-${String(data)}`,
  room: 'r',
  data,
  node: 'n',
  ts: 0,
});

describe('the room log of a single node', () => {
  it('forgets a room history after its TTL, its epoch and offsets after the meta TTL', async () => {
    let now = 0;
    const log = new MemoryRoomLog({ size: 10, ttlSeconds: 10, metaTtlSeconds: 60 }, () => now);
    try {
      const appended = await log.append('r', 'publish', envelope(1));
      if (appended.kind !== 'appended') throw new Error(`appended: ${appended.kind}`);
      const first = appended.position;
      await log.append('r', 'publish', envelope(2));
      expect((await log.read('r', 0, 10)).messages.map((m) => m.envelope.offset)).toEqual([1, 2]);

      now = 10_000;
      const expired = await log.read('r', 0, 10);
      expect(expired.messages).toEqual([]);
      expect(expired.position).toEqual({ offset: 2, epoch: first.epoch });
      expect(continuesFrom(expired, { offset: 2, epoch: first.epoch })).toBe(true);
      expect(continuesFrom(expired, { offset: 1, epoch: first.epoch })).toBe(false);

      expect(await log.append('r', 'publish', envelope(3))).toEqual({
        kind: 'appended',
        position: { offset: 3, epoch: first.epoch },
      });
      const resumed = await log.read('r', 2, 10);
      expect(resumed.messages.map((m) => m.envelope.offset)).toEqual([3]);
      expect(continuesFrom(resumed, { offset: 2, epoch: first.epoch })).toBe(true);

      now = 70_000;
      const fresh = await log.position('r');
      expect(fresh.offset).toBe(0);
      expect(fresh.epoch).not.toBe(first.epoch);
    } finally {
      await log.close();
    }
  });
});
