import { describe, expect, it } from 'vitest';
import type { RoomLog } from '../../src/cluster/room-log.js';
import { Publisher } from '../../src/delivery/publisher.js';
import { NodeMetrics } from '../../src/observability/metrics.js';

/** A room log whose Redis connection dropped with the append in flight. */
const lostLog: RoomLog = {
  append: () => Promise.reject(new Error('Connection is closed.')),
  position: () => Promise.reject(new Error('unused')),
  read: () => Promise.reject(new Error('unused')),
  follow: () => undefined,
  unfollow: () => {},
  onMessage: () => {},
  onResync: () => {},
  close: async () => {},
};

describe('Publisher', () => {
  it('says a room publish whose append failed on its way may have gone through', async () => {
    const metrics = new NodeMetrics('unit', {
      connectionsByTransport: () => ({}),
      rooms: () => ({ rooms: 0, subscriptions: 0 }),
      redisUp: () => true,
    });
    const publisher = new Publisher(
      { broadcast: () => {} },
      lostLog,
      { kind: 'memory', isReady: () => true, status: () => 'ready' },
      'unit',
      65_536,
      metrics,
    );
    expect(await publisher.publish({ room: 'r', data: 1 }, { source: 'http' })).toEqual({
      ok: false,
      error: {
        code: 'outcome_unknown',
        message: expect.stringMatching(/may or may not have been published.*idempotencyKey/),
      },
    });
    await publisher.settled();
  });
});
