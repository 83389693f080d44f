import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterBackend } from '../../src/cluster/cluster-backend.js';
import { continuesFrom, type RoomMessage } from '../../src/cluster/room-log.js';
import { BACKENDS } from '../support/backends.js';
import { waitFor } from '../support/wait.js';

/** The room log's contract, the same on every backend. */
let rooms = 0;
/** A room no other test has used. */
const freshRoom = () => `contract:log.${process.pid}-${++rooms}`;
const envelope = (room: string, data: unknown, id = `m-${Math.random()}`) => ({
  id,
  room,
  data,
  node: 'n',
  ts: 0,
});

/**
 * Messages the log hands `backend`'s listeners (of `rooms`, which it follows), once its feed is
 * known to be live.
 */
async function listen(backend: ClusterBackend, rooms: string[] = []): Promise<RoomMessage[]> {
  const seen: RoomMessage[] = [];
  backend.roomLog.onMessage((message) => seen.push(message));
  const probe = freshRoom();
  await Promise.all([probe, ...rooms].map((room) => backend.roomLog.follow(room)));
  // (The feed was live before follow() resolved; the probe shows the connection is up.)
  await waitFor(
    async () => {
      await backend.roomLog.append(probe, 'probe', envelope(probe, 0));
      return seen.some((message) => message.room === probe);
    },
    { timeoutMs: 10_000, intervalMs: 200, what: 'the live feed' },
  );
  // (Probes still on their way may follow: tests look at their own rooms only.)
  return seen;
}

describe.each(BACKENDS)('room log on $name', (factory) => {
  let backend: ClusterBackend;
  beforeAll(async () => {
    await factory.start();
    backend = factory.make({ history: { size: 5, ttlSeconds: 3600, metaTtlSeconds: 86_400 } });
    await waitFor(() => backend.isReady(), { what: 'backend ready' });
  });
  afterAll(() => factory.stop());

  it('gives each append the next offset in one epoch, and says where the room stands', async () => {
    const room = freshRoom();
    const fresh = await backend.roomLog.position(room);
    expect(fresh.offset).toBe(0);
    const results = [];
    for (let i = 1; i <= 3; i++) {
      results.push(await backend.roomLog.append(room, 'publish', envelope(room, i)));
    }
    expect(results).toEqual(
      [1, 2, 3].map((offset) => ({ kind: 'appended', position: { offset, epoch: fresh.epoch } })),
    );
    expect(await backend.roomLog.position(room)).toEqual({ offset: 3, epoch: fresh.epoch });
  });

  it('reads after an offset, up to a limit, and keeps only the history size', async () => {
    const room = freshRoom();
    for (let i = 1; i <= 7; i++) await backend.roomLog.append(room, 'e', envelope(room, i));
    const all = await backend.roomLog.read(room, 0, 100);
    expect(all.messages.map((m) => m.envelope.data)).toEqual([3, 4, 5, 6, 7]);
    expect(all.messages.map((m) => m.envelope.offset)).toEqual([3, 4, 5, 6, 7]);
    expect(all.messages.every((m) => m.room === room && m.event === 'e')).toBe(true);
    expect(all.oldestOffset).toBe(3);
    expect(all.position.offset).toBe(7);
    const some = await backend.roomLog.read(room, 4, 2);
    expect(some.messages.map((m) => m.envelope.offset)).toEqual([5, 6]);
    // From offset 2 the history continues; from 1 it no longer does (offset 2 was trimmed).
    expect(continuesFrom(all, { offset: 2, epoch: all.position.epoch })).toBe(true);
    expect(continuesFrom(all, { offset: 1, epoch: all.position.epoch })).toBe(false);
    expect(continuesFrom(all, { offset: 7, epoch: 'another epoch' })).toBe(false);
  });

  it('appends once under an idempotency key, and tells a reused key from a retry', async () => {
    const room = freshRoom();
    const guard = { key: 'k1', fingerprint: 'f1' };
    const first = await backend.roomLog.append(room, 'e', envelope(room, 'a', 'id-1'), guard);
    expect(first.kind).toBe('appended');
    const retry = await backend.roomLog.append(room, 'e', envelope(room, 'a', 'id-2'), guard);
    expect(retry).toEqual({
      kind: 'duplicate',
      id: 'id-1',
      position: first.kind === 'appended' ? first.position : undefined,
    });
    const reused = await backend.roomLog.append(room, 'e', envelope(room, 'b', 'id-3'), {
      key: 'k1',
      fingerprint: 'f2',
    });
    expect(reused).toEqual({ kind: 'conflict' });
    // The same key in another room is another key.
    const other = freshRoom();
    expect((await backend.roomLog.append(other, 'e', envelope(other, 'a'), guard)).kind).toBe(
      'appended',
    );
    expect((await backend.roomLog.read(room, 0, 10)).messages.map((m) => m.envelope.id)).toEqual([
      'id-1',
    ]);
  });

  it('keeps offsets without a history (size 0)', async () => {
    const log = factory.make({ history: { size: 0, ttlSeconds: 60, metaTtlSeconds: 600 } });
    await waitFor(() => log.isReady(), { what: 'backend ready' });
    const room = freshRoom();
    await log.roomLog.append(room, 'e', envelope(room, 1));
    await log.roomLog.append(room, 'e', envelope(room, 2));
    const slice = await log.roomLog.read(room, 0, 10);
    expect(slice.messages).toEqual([]);
    expect(slice.position.offset).toBe(2);
    expect(slice.oldestOffset).toBe(3);
    await log.close();
  });

  it('hands every appended message to its listeners, each room in offset order', async () => {
    const [a, b] = [freshRoom(), freshRoom()];
    const seen = await listen(backend, [a, b]);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        backend.roomLog.append(i % 2 === 0 ? a : b, 'e', envelope(i % 2 === 0 ? a : b, i)),
      ),
    );
    const ours = () => seen.filter((m) => m.room === a || m.room === b);
    await waitFor(() => ours().length === 20, { what: '20 messages' });
    for (const room of [a, b]) {
      const offsets = seen.filter((m) => m.room === room).map((m) => m.envelope.offset);
      expect(offsets).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }
    const last = ours().at(-1);
    expect(last?.envelope.epoch).toBeTypeOf('string');
  });

  if (factory.shared) {
    it('hands one node’s appends to every node', async () => {
      const other = factory.make();
      await waitFor(() => other.isReady(), { what: 'second backend ready' });
      const room = freshRoom();
      const [mine, theirs] = [await listen(backend, [room]), await listen(other, [room])];
      await other.roomLog.append(room, 'e', envelope(room, 'x'));
      const inRoom = (seen: RoomMessage[]) => seen.filter((message) => message.room === room);
      await waitFor(() => inRoom(mine).length === 1 && inRoom(theirs).length === 1, {
        what: 'both nodes',
      });
      expect(inRoom(mine)[0]?.envelope).toEqual(inRoom(theirs)[0]?.envelope);
      expect(await backend.roomLog.position(room)).toEqual(await other.roomLog.position(room));
      await other.close();
    });

    it('hands a node only the rooms it follows, from the moment follow() resolves', async () => {
      const other = factory.make();
      await waitFor(() => other.isReady(), { what: 'second backend ready' });
      const [followed, unfollowed, left] = [freshRoom(), freshRoom(), freshRoom()];
      const seen = await listen(other, [followed, left]);
      other.roomLog.unfollow(left);
      // Once resolved, a second follow() has nothing to wait for.
      expect(other.roomLog.follow(followed)).toBeUndefined();
      for (const room of [unfollowed, left, followed]) {
        await backend.roomLog.append(room, 'e', envelope(room, room));
      }
      await waitFor(() => seen.some((m) => m.room === followed), { what: 'the followed room' });
      // Published before the followed room's message: had they come, they would have come first.
      expect(seen.filter((m) => m.room === unfollowed || m.room === left)).toEqual([]);
      // Following again: messages come again, and nothing is lost from the moment it resolves.
      await other.roomLog.follow(left);
      await backend.roomLog.append(left, 'e', envelope(left, 'again'));
      await waitFor(() => seen.some((m) => m.room === left), { what: 'the room followed again' });
      await other.close();
    });
  }
});
