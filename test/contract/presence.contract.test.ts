import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterBackend } from '../../src/cluster/cluster-backend.js';
import type { PresenceChange } from '../../src/cluster/presence.js';
import { BACKENDS } from '../support/backends.js';
import { waitFor } from '../support/wait.js';

/** Presence's contract, the same on every backend. */
let rooms = 0;
const freshRoom = () => `contract:presence.${process.pid}-${++rooms}`;

describe.each(BACKENDS)('presence on $name', (factory) => {
  let backend: ClusterBackend;
  beforeAll(async () => {
    await factory.start();
    backend = factory.make();
    await waitFor(() => backend.isReady(), { what: 'backend ready' });
  });
  afterAll(() => factory.stop());

  it('counts a user once however many connections, and says when they arrive and leave', async () => {
    const room = freshRoom();
    const { presence } = backend;
    expect(await presence.join(room, 'ann')).toBe(true);
    expect(await presence.join(room, 'ann')).toBe(false);
    expect(await presence.join(room, 'bob')).toBe(true);
    expect((await presence.members(room)).sort()).toEqual(['ann', 'bob']);
    expect(await presence.leave(room, 'ann')).toBe(false);
    expect(await presence.members(room)).toContain('ann');
    expect(await presence.leave(room, 'ann')).toBe(true);
    expect(await presence.members(room)).toEqual(['bob']);
    expect(await presence.members(freshRoom())).toEqual([]);
  });

  it('takes a leave without a join for nothing', async () => {
    const room = freshRoom();
    expect(await backend.presence.leave(room, 'ghost')).toBe(false);
    expect(await backend.presence.join(room, 'ghost')).toBe(true);
  });

  if (factory.shared) {
    it('counts across nodes: a user is gone when their last node lets go', async () => {
      const other = factory.make();
      await waitFor(() => other.isReady(), { what: 'second backend ready' });
      const room = freshRoom();
      expect(await backend.presence.join(room, 'cy')).toBe(true);
      expect(await other.presence.join(room, 'cy')).toBe(false);
      expect(await other.presence.members(room)).toEqual(['cy']);
      expect(await backend.presence.leave(room, 'cy')).toBe(false);
      expect(await other.presence.leave(room, 'cy')).toBe(true);
      expect(await backend.presence.members(room)).toEqual([]);
      await other.close();
    });
  }

  if (factory.shared) {
    it('lets the users of a node that is gone leave, and tells the others', async () => {
      const doomed = factory.make({ nodeId: 'doomed' });
      await waitFor(() => doomed.isReady(), { what: 'doomed backend ready' });
      const reaped: PresenceChange[] = [];
      backend.presence.onReaped((change) => reaped.push(change));
      const room = freshRoom();
      await doomed.presence.join(room, 'dee');
      await backend.presence.join(room, 'eve');
      // Gone without leaving: its liveness goes with it, and another node reaps its entries.
      await doomed.close();
      await waitFor(() => reaped.some((change) => change.room === room), {
        timeoutMs: 20_000,
        what: 'the reaper',
      });
      expect(reaped.filter((change) => change.room === room)).toEqual([
        { room, user: 'dee', action: 'leave' },
      ]);
      expect(await backend.presence.members(room)).toEqual(['eve']);
    }, 30_000);
  }
});
