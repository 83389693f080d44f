import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COMPOSE_DEFAULT_API_KEY,
  type ComposeCluster,
  startComposeCluster,
} from '../support/compose-project.js';
import { postPublish } from '../support/http-publish.js';
import { connectOnEveryNode, settle, subscribe, type TestClient } from '../support/test-client.js';
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
});

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
      { timeoutMs: 60_000, intervalMs: 100, what: 'every node ready' },
    );
  });

  it('delivers an HTTP publish to subscribers on every node', async () => {
    const nodes = ['node1', 'node2', 'node3'];
    clients.push(...(await connectOnEveryNode(cluster.url, nodes, { transports: ['websocket'] })));
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
});
