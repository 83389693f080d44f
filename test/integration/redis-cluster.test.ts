import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PushClient } from '../../src/client/index.js';
import { keySlot } from '../../src/cluster/redis/key-slot.js';
import { RedisConnection } from '../../src/cluster/redis/redis-connection.js';
import { roomLogKey } from '../../src/cluster/redis/redis-keys.js';
import { createLogger } from '../../src/observability/logger.js';
import type { ClusterOverview } from '../../src/protocol/index.js';
import { streamThroughFailover } from '../support/failover-stream.js';
import { postPublish } from '../support/http-publish.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import {
  RedisClusterContainer,
  type StartedRedisCluster,
} from '../support/redis-cluster-container.js';
import { connectClient, emitAck, settle, type TestClient } from '../support/test-client.js';
import { testToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * Three nodes on a Redis Cluster (3 masters, 3 replicas): history and recovery, presence,
 * per-user limits, idempotency and the overview across nodes, and a master killed under a
 * stream of 100 msgs/s: delivery resumes, and every client has every message or was told.
 */
const API_KEY = 'redis-cluster-test-key';
const ADMIN_KEY = 'redis-cluster-admin-key';
let cluster: StartedRedisCluster;
let nodes: InProcessNode[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  cluster = await new RedisClusterContainer().withMasters(3).withReplicasPerMaster(1).start();
  nodes = await Promise.all(
    ['rc-a', 'rc-b', 'rc-c'].map((id) =>
      startInProcessNode({
        NODE_ID: id,
        REDIS_CLUSTER_NODES: cluster.seeds,
        PUBLISH_API_KEYS: API_KEY,
        ADMIN_API_KEY: ADMIN_KEY,
        PRESENCE_ROOMS: 'rc-presence*',
        MAX_CONNECTIONS_PER_USER: '2',
        CLIENT_EVENT_BURST: '1000',
      }),
    ),
  );
  await waitFor(() => nodes.every((node) => node.server.backend.isReady()), {
    timeoutMs: 30_000,
    what: 'every node ready on the Redis Cluster',
  });
});

afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.all(nodes.map((node) => node.server.close()));
  await cluster?.stop();
});

const node = (index: number) => nodes[index] as InProcessNode;

async function connect(on: InProcessNode, sub = `rc-user-${randomUUID()}`): Promise<TestClient> {
  const client = await connectClient(on.url, {
    transports: ['websocket'],
    token: await testToken({ sub }),
  });
  clients.push(client);
  return client;
}

async function publish(on: InProcessNode, body: Record<string, unknown>): Promise<Response> {
  return postPublish(on.url, API_KEY, body);
}

describe('nodes on a Redis Cluster', () => {
  it('say so on /readyz', async () => {
    const ready = await fetch(`${node(0).url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ cluster: 'redis-cluster', bus: 'ready' });
  });

  it('keep each room on its own shard, and recover a client that was away from the history', async () => {
    const rooms = ['rc-hist-1', 'rc-hist-2', 'rc-hist-3', 'rc-hist-4'];
    // Rooms in several slots, so on several shards.
    expect(new Set(rooms.map((room) => keySlot(roomLogKey(room)))).size).toBe(rooms.length);
    for (const room of rooms) {
      const first = await connect(node(0));
      const joined = (await emitAck(first, 'subscribe', room)) as { offset: number; epoch: string };
      first.close();
      for (let i = 1; i <= 3; i++) {
        expect((await publish(node(1), { room, data: i })).status).toBe(202);
      }
      const back = await connect(node(2));
      const ack = await emitAck(back, 'subscribe', room, {
        since: { offset: joined.offset, epoch: joined.epoch },
      });
      expect(ack).toMatchObject({ ok: true, recovered: true, offset: joined.offset + 3 });
      await waitFor(() => back.received.length === 3, { what: `history of ${room}` });
      expect(back.received.map((r) => r.envelope.data)).toEqual([1, 2, 3]);
    }
  });

  it('publish once under an idempotency key, whichever node is asked again', async () => {
    const subscriber = await connect(node(2));
    await emitAck(subscriber, 'subscribe', 'rc-idem');
    const key = randomUUID();
    const first = await publish(node(0), { room: 'rc-idem', data: 'once', idempotencyKey: key });
    const again = await publish(node(1), { room: 'rc-idem', data: 'once', idempotencyKey: key });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    const [one, two] = [
      (await first.json()) as { id: string },
      (await again.json()) as { id: string },
    ];
    expect(two).toMatchObject({ id: one.id, duplicate: true });
    await waitFor(() => subscriber.received.length === 1, { what: 'the message' });
    await settle();
    expect(subscriber.received).toHaveLength(1);
  });

  it('count presence and a user’s connections across nodes', async () => {
    const ann = await connect(node(0), 'rc-ann');
    const bob = await connect(node(1), 'rc-bob');
    await emitAck(ann, 'subscribe', 'rc-presence');
    await emitAck(bob, 'subscribe', 'rc-presence');
    const response = await fetch(`${node(2).url}/api/rooms/rc-presence/presence`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(await response.json()).toMatchObject({ users: ['rc-ann', 'rc-bob'] });

    await connect(node(2), 'rc-ann');
    const third = connect(node(1), 'rc-ann');
    await expect(third).rejects.toThrow(/already holds the most connections/);
  });

  it('list every node in the overview', async () => {
    const view = await waitFor(
      async () => {
        const response = await fetch(`${node(1).url}/api/cluster`, {
          headers: { authorization: `Bearer ${ADMIN_KEY}` },
        });
        const overview = (await response.json()) as ClusterOverview;
        return overview.nodes.length === 3 ? overview : undefined;
      },
      { what: 'three nodes in the overview' },
    );
    expect(view.partial).toBe(false);
    expect(view.nodes.map((n) => n.node).sort()).toEqual(['rc-a', 'rc-b', 'rc-c']);
  });

  it('connect although a seed no longer resolves (a killed Redis leaves DNS in compose or Kubernetes)', async () => {
    const seeds = ['gone-redis.invalid:6379', ...cluster.seeds.split(',')];
    const connection = RedisConnection.openCluster(seeds, 'seed-test', createLogger('t', 'silent'));
    try {
      await waitFor(() => connection.ready, {
        timeoutMs: 30_000,
        what: 'the cluster client ready',
      });
      await connection.client.set('rc-seed-test', 'ok');
      expect(await connection.client.get('rc-seed-test')).toBe('ok');
    } finally {
      await connection.close();
    }
  });

  it('lose nothing silently when a master is killed under 100 msgs/s', async () => {
    const watchers = await Promise.all(
      Array.from(
        { length: 6 },
        async (_, i) =>
          new PushClient(node(i % 3).url, { token: await testToken({ sub: `rc-stream-${i}` }) }),
      ),
    );
    // Readiness as seen from outside, every 100 ms.
    const notReady = new Set<string>();
    const polling = setInterval(() => {
      for (const n of nodes) {
        fetch(`${n.url}/readyz`).then(
          (response) => {
            if (response.status === 503) notReady.add(n.id);
          },
          () => {},
        );
      }
    }, 100);
    const byPort = (port: string) =>
      cluster.nodes.find((n) => String(n.port) === port) as (typeof cluster.nodes)[number];
    const outcome = await streamThroughFailover({
      rooms: Array.from({ length: 6 }, (_, i) => `rc-stream-${i}`),
      clients: watchers,
      publish: (data, body) => publish(node(data % 3), body),
      target: {
        masterOf: async (slot) => String((await cluster.masterOf(slot)).port),
        kill: (port) => cluster.kill(byPort(port)),
      },
    }).finally(() => clearInterval(polling));
    console.log(
      `failover: replica promoted after ${outcome.promotedAfterMs} ms, publishing to the killed shard resumed after ${outcome.resumedAfterMs} ms; not ready meanwhile: ${[...notReady].join(', ') || 'none'}; ${outcome.messages} messages; rooms a client was told it could not recover: ${outcome.told}`,
    );
    expect(outcome.resumedAfterMs).toBeLessThan(30_000);
    // While the shard had no master, the nodes said they were not ready.
    expect(notReady.size).toBeGreaterThan(0);
    for (const client of watchers) client.close();
  }, 240_000);
});
