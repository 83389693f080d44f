import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PushClient } from '../../src/client/index.js';
import {
  COMPOSE_DEFAULT_API_KEY,
  COMPOSE_DEFAULT_JWT_SECRET,
  type ComposeCluster,
  startComposeCluster,
} from '../support/compose-project.js';
import { type FailoverTarget, streamThroughFailover } from '../support/failover-stream.js';
import { postPublish } from '../support/http-publish.js';
import { connectOnEveryNode, settle, subscribe, type TestClient } from '../support/test-client.js';
import { testToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * `docker compose -f docker-compose.yml -f docker-compose.redis-cluster.yml up`: the same
 * cluster on a Redis Cluster of 3 masters and 3 replicas, formed by the override itself.
 */
let cluster: ComposeCluster;
const clients: TestClient[] = [];

beforeAll(async () => {
  cluster = await startComposeCluster('pushrc', [
    'docker-compose.yml',
    'docker-compose.redis-cluster.yml',
  ]);
  composeNodes = await cluster.project.nodeIds();
});

/** Waits until nginx has had a 200 from `/readyz` of each of the three nodes. */
async function everyNodeReady(timeoutMs = 60_000): Promise<void> {
  const seen = new Set<string>();
  await waitFor(
    async () => {
      const response = await fetch(`${cluster.url}/readyz`);
      if (response.status !== 200) return false;
      const body = (await response.json()) as { cluster: string };
      expect(body.cluster).toBe('redis-cluster');
      seen.add(response.headers.get('x-node-id') ?? '');
      return seen.size === 3;
    },
    { timeoutMs, intervalMs: 100, what: 'every node ready' },
  );
}

/**
 * A node's own `/readyz`, asked inside its container (nginx balances by least connections, so
 * a node holding more clients may not be asked at all while the others answer).
 */
async function nodeReadiness(node: string): Promise<string> {
  return cluster.project
    .docker(
      'exec',
      node,
      'node',
      '-e',
      "fetch('http://127.0.0.1:3000/readyz').then((r) => r.text()).then(console.log)",
    )
    .catch((error: unknown) => String(error));
}

/** The push nodes' ids (their containers' short ids), once the cluster is up. */
let composeNodes: string[] = [];

/** The override's Redis services, and the ones not killed yet. */
const REDIS_SERVICES = ['redis-c1', 'redis-c2', 'redis-c3', 'redis-c4', 'redis-c5', 'redis-c6'];
const liveRedis = new Set(REDIS_SERVICES);

/**
 * The Redis Cluster as its own nodes see it: `CLUSTER NODES` from a live one. Each line is
 * `id ip:port@bus,hostname flags master-id ping pong epoch link slot-ranges…`.
 */
const composeRedis: FailoverTarget = {
  async masterOf(slot) {
    for (const service of liveRedis) {
      const nodes = await cluster.project
        .compose('exec', '-T', service, 'redis-cli', 'cluster', 'nodes')
        .catch(() => undefined);
      if (nodes === undefined) continue;
      for (const line of nodes.trim().split('\n')) {
        const [, address = '', flags = '', , , , , , ...ranges] = line.split(' ');
        if (!flags.includes('master') || flags.includes('fail')) continue;
        for (const range of ranges) {
          const [start, end = start] = range.split('-').map(Number);
          if (start !== undefined && end !== undefined && slot >= start && slot <= end) {
            return address.split(',')[1] ?? address;
          }
        }
      }
      throw new Error(`no master owns slot ${slot}`);
    }
    throw new Error('no Redis node answers');
  },
  async kill(service) {
    liveRedis.delete(service);
    await cluster.project.compose('kill', service);
  },
};

/** What each client and node says, and the nodes' last log lines: printed when a step fails. */
async function describeCluster(watchers: PushClient[]): Promise<void> {
  console.log(watchers.map((w, i) => `client ${i}: on ${w.node}, ${w.status.state}`).join('\n'));
  for (const node of composeNodes) console.log(node, await nodeReadiness(node));
  const logs = await cluster.project.compose('logs', '--no-color', 'node');
  const notable = logs.split('\n').filter((line) => !line.includes('"msg":"http request"'));
  console.log(notable.slice(-60).join('\n'));
}

afterAll(async () => {
  for (const client of clients) client.close();
  await cluster?.project.down();
});

describe('docker compose up with the Redis Cluster override', () => {
  it('forms a Redis Cluster of 3 masters and 3 replicas', async () => {
    const nodes = await cluster.project.compose(
      'exec',
      '-T',
      'redis-c1',
      'redis-cli',
      'cluster',
      'nodes',
    );
    const roles = nodes
      .trim()
      .split('\n')
      .map((line) => (line.includes('master') ? 'master' : 'replica'));
    expect(roles.filter((role) => role === 'master')).toHaveLength(3);
    expect(roles.filter((role) => role === 'replica')).toHaveLength(3);
  });

  it('serves all three nodes through nginx, ready on the Redis Cluster', async () => {
    await everyNodeReady();
  });

  it('delivers an HTTP publish to subscribers on every node', async () => {
    clients.push(
      ...(await connectOnEveryNode(cluster.url, composeNodes, { transports: ['websocket'] })),
    );
    for (const client of clients) await subscribe(client, 'compose-cluster');
    const response = await postPublish(cluster.url, COMPOSE_DEFAULT_API_KEY, {
      room: 'compose-cluster',
      data: 'on a Redis Cluster',
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    await waitFor(() => clients.every((c) => c.receivedWithId(id) === 1), {
      what: 'delivery on every node',
    });
    await settle();
    for (const client of clients) expect(client.received).toHaveLength(1);
  });

  it('loses nothing silently when a Redis master is killed under 100 msgs/s through nginx, and every node is ready again', async () => {
    const watchers = await Promise.all(
      Array.from(
        { length: 6 },
        async (_, i) =>
          new PushClient(cluster.url, {
            token: await testToken({ sub: `compose-stream-${i}` }, COMPOSE_DEFAULT_JWT_SECRET),
          }),
      ),
    );
    try {
      const outcome = await streamThroughFailover({
        rooms: Array.from({ length: 6 }, (_, i) => `compose-stream-${i}`),
        clients: watchers,
        publish: (_, body) => postPublish(cluster.url, COMPOSE_DEFAULT_API_KEY, body),
        target: composeRedis,
      }).catch(async (error) => {
        await describeCluster(watchers);
        throw error;
      });
      console.log(
        `compose failover: replica promoted after ${outcome.promotedAfterMs} ms, publishing to the killed shard resumed after ${outcome.resumedAfterMs} ms; ${outcome.messages} messages; rooms a client was told it could not recover: ${outcome.told}`,
      );
      expect(outcome.resumedAfterMs).toBeLessThan(30_000);
      // The nodes' Redis clients came back although the killed node's name no longer resolves.
      await waitFor(
        async () => {
          const answers = await Promise.all(composeNodes.map(nodeReadiness));
          return answers.every((answer) => answer.includes('"status":"ready"'));
        },
        { timeoutMs: 60_000, intervalMs: 1000, what: 'every node ready' },
      ).catch(async (error) => {
        await describeCluster(watchers);
        throw error;
      });
    } finally {
      for (const client of watchers) client.close();
    }
  }, 300_000);
});
