import { RedisContainer } from '@testcontainers/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postPublish } from '../support/http-publish.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import { RedisClusterContainer } from '../support/redis-cluster-container.js';
import { connectClient, settle, subscribe, type TestClient } from '../support/test-client.js';
import { testToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * The fast cluster tier: three nodes in this process sharing a real Redis, as
 * socket.io-redis-adapter's own tests do, once on one Redis and once on a Redis Cluster (3
 * masters, 3 replicas): the same tests on every topology.
 */
const API_KEY = 'in-process-cluster-key';

/** Where the nodes keep their state, and what `/readyz` says of it. */
interface Topology {
  name: string;
  kind: string;
  start(): Promise<{ env: Record<string, string>; stop(): Promise<unknown> }>;
}

const TOPOLOGIES: Topology[] = [
  {
    name: 'one Redis',
    kind: 'redis',
    async start() {
      const redis = await new RedisContainer('redis:7-bookworm').start();
      return { env: { REDIS_URL: redis.getConnectionUrl() }, stop: () => redis.stop() };
    },
  },
  {
    name: 'a Redis Cluster',
    kind: 'redis-cluster',
    async start() {
      const cluster = await new RedisClusterContainer().start();
      return { env: { REDIS_CLUSTER_NODES: cluster.seeds }, stop: () => cluster.stop() };
    },
  },
];

describe.each(TOPOLOGIES)('three nodes on $name', (topology) => {
  let redis: { stop(): Promise<unknown> } | undefined;
  let nodes: InProcessNode[] = [];
  const clients: TestClient[] = [];

  const connectTo = async (node: InProcessNode, transports?: Array<'polling' | 'websocket'>) => {
    const client = await connectClient(node.url, { transports, token: await testToken() });
    clients.push(client);
    return client;
  };
  const nodeAt = (index: number) => {
    const node = nodes[index];
    if (node === undefined) throw new Error(`no node ${index}`);
    return node;
  };

  beforeAll(async () => {
    const started = await topology.start();
    redis = started;
    nodes = await Promise.all(
      ['a', 'b', 'c'].map((id) =>
        startInProcessNode({
          NODE_ID: id,
          ...started.env,
          PUBLISH_API_KEYS: API_KEY,
          // A burst of 200 publishes from one connection is part of the test.
          CLIENT_EVENT_BURST: '1000',
        }),
      ),
    );
    await waitFor(() => nodes.every((node) => node.server.backend.isReady()), {
      what: 'all nodes connected to Redis',
    });
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all(nodes.map((node) => node.server.close()));
    await redis?.stop();
  });

  it('are ready, reporting the redis cluster link', async () => {
    for (const node of nodes) {
      const ready = await fetch(`${node.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({
        cluster: topology.kind,
        bus: 'ready',
        node: node.id,
      });
    }
  });

  it('deliver a socket publish from one node to subscribers on every node, exactly once', async () => {
    const subscribers = await Promise.all(nodes.map((node) => connectTo(node)));
    const outsiders = await Promise.all(nodes.map((node) => connectTo(node, ['websocket'])));
    expect(subscribers.map((c) => c.node)).toEqual(['a', 'b', 'c']);
    for (const client of subscribers) await subscribe(client, 'orders:42');

    const publisher = await connectTo(nodeAt(1));
    const ack = await publisher.socket.emitWithAck('publish', {
      room: 'orders:42',
      event: 'order.updated',
      data: { status: 'shipped' },
    });
    if (!ack.ok) throw new Error(ack.error.message);

    await waitFor(() => subscribers.every((c) => c.receivedWithId(ack.id) >= 1), {
      what: 'delivery on every node',
    });
    await settle();
    for (const client of subscribers) {
      expect(client.received).toEqual([
        {
          event: 'order.updated',
          envelope: {
            id: ack.id,
            room: 'orders:42',
            data: { status: 'shipped' },
            node: 'b',
            ts: expect.any(Number),
            offset: 1,
            epoch: ack.epoch,
          },
        },
      ]);
    }
    for (const client of [...outsiders, publisher]) expect(client.received).toEqual([]);
  });

  it('deliver an HTTP publish without room to every client on every node', async () => {
    const everyone = await Promise.all(nodes.map((node) => connectTo(node, ['polling'])));
    const response = await postPublish(nodeAt(2).url, API_KEY, {
      event: 'broadcast',
      data: 'to all',
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    await waitFor(() => everyone.every((c) => c.receivedWithId(id) === 1), {
      what: 'broadcast on every node',
    });
    await settle();
    for (const client of everyone) {
      expect(client.received.map((r) => [r.event, r.envelope.node, r.envelope.room])).toEqual([
        ['broadcast', 'c', null],
      ]);
    }
  });

  it('keep a burst of 200 messages complete, unduplicated and in order on every node', async () => {
    const subscribers = await Promise.all(nodes.map((node) => connectTo(node, ['websocket'])));
    for (const client of subscribers) await subscribe(client, 'burst');
    const publisher = await connectTo(nodeAt(0), ['websocket']);
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const ack = await publisher.socket.emitWithAck('publish', { room: 'burst', data: i });
      if (!ack.ok) throw new Error(ack.error.message);
      ids.push(ack.id);
    }
    await waitFor(() => subscribers.every((c) => c.received.length >= 200), {
      what: '200 deliveries per subscriber',
    });
    await settle();
    for (const client of subscribers) {
      expect(client.received.map((r) => r.envelope.id)).toEqual(ids);
    }
  });
});
