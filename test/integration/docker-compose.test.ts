import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken, type TokenGrant } from '../../src/auth/token-signer.js';
import type { ClusterOverview } from '../../src/protocol/index.js';
import {
  COMPOSE_DEFAULT_API_KEY,
  COMPOSE_DEFAULT_JWT_SECRET,
  type ComposeCluster,
  startComposeCluster,
} from '../support/compose-project.js';
import { postPublish } from '../support/http-publish.js';
import {
  connectClient,
  connectOnEveryNode,
  settle,
  subscribe,
  type TestClient,
} from '../support/test-client.js';
import { waitFor } from '../support/wait.js';

/**
 * The compose file itself, as a user runs it: `docker compose up` on the repository's
 * docker-compose.yml with its defaults, only HTTP_PORT moved to a free port.
 */
let cluster: ComposeCluster;
let url: string;
/** The three nodes' ids (their containers' short ids). */
let nodes: string[];
const clients: TestClient[] = [];

beforeAll(async () => {
  cluster = await startComposeCluster('pushtest');
  url = cluster.url;
  nodes = await cluster.project.nodeIds();
});

afterAll(async () => {
  for (const client of clients) client.close();
  await cluster?.project.down();
});

/** A token signed with the compose file's development secret, as `npm run token` makes one. */
const composeToken = (grant: Omit<TokenGrant, 'ttlSeconds'>) =>
  signToken(COMPOSE_DEFAULT_JWT_SECRET, { ttlSeconds: 600, ...grant });

describe('docker compose up', () => {
  it('serves all three nodes through nginx, ready on Redis', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 30 && seen.size < 3; i++) {
      const response = await fetch(`${url}/readyz`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ cluster: 'redis', bus: 'ready' });
      seen.add(response.headers.get('x-node-id') ?? '');
    }
    expect(nodes).toHaveLength(3);
    expect(seen).toEqual(new Set(nodes));
  });

  it('delivers an HTTP publish (default key) to subscribers on every node', async () => {
    clients.push(...(await connectOnEveryNode(url, nodes, { transports: ['polling'] })));
    clients.push(...(await connectOnEveryNode(url, nodes, { transports: ['websocket'] })));
    for (const client of clients) await subscribe(client, 'compose');

    const response = await postPublish(url, COMPOSE_DEFAULT_API_KEY, {
      room: 'compose',
      data: { hello: 'compose' },
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    await waitFor(() => clients.every((c) => c.receivedWithId(id) === 1), {
      what: 'delivery on every node',
    });
    await settle();
    for (const client of clients) {
      expect(client.received).toEqual([
        {
          event: 'message',
          envelope: expect.objectContaining({ id, room: 'compose', data: { hello: 'compose' } }),
        },
      ]);
    }
  });

  it('holds 1,500 WebSocket clients at once through nginx, and delivers to every one', async () => {
    // 3,000 nginx connections (each client's, and its node's): more than the nginx images'
    // default worker_connections (768 or 1024 per worker) allow on a 2-core host.
    const CROWD = 1500;
    const crowd: TestClient[] = [];
    try {
      const failures: unknown[] = [];
      for (let opened = 0; opened < CROWD; opened += 250) {
        const batch = await Promise.allSettled(
          Array.from({ length: Math.min(250, CROWD - opened) }, () =>
            connectClient(url, { transports: ['websocket'], timeoutMs: 20_000 }),
          ),
        );
        for (const result of batch) {
          if (result.status === 'fulfilled') crowd.push(result.value);
          else failures.push(result.reason);
        }
      }
      expect(failures.length, `first failure: ${String(failures[0])}`).toBe(0);
      expect(new Set(crowd.map((client) => client.node))).toEqual(new Set(nodes));

      const response = await postPublish(url, COMPOSE_DEFAULT_API_KEY, { data: 'to the crowd' });
      expect(response.status).toBe(202);
      const { id } = (await response.json()) as { id: string };
      await waitFor(() => crowd.every((client) => client.receivedWithId(id) === 1), {
        what: 'delivery to every client of the crowd',
        timeoutMs: 20_000,
      });
      expect(crowd.filter((client) => client.socket.connected)).toHaveLength(CROWD);
    } finally {
      for (const client of crowd) client.close();
    }
  });

  it('publishes with the CLI inside a node, through nginx, to a subscriber on every node', async () => {
    const watchers = await connectOnEveryNode(url, nodes, {
      transports: ['websocket'],
    });
    clients.push(...watchers);
    for (const client of watchers) await subscribe(client, 'compose-cli');
    const printed = await cluster.project.docker(
      'exec',
      '-e',
      `PUSH_API_KEY=${COMPOSE_DEFAULT_API_KEY}`,
      '-e',
      'PUSH_URL=http://nginx',
      nodes[1] as string,
      'node',
      'dist/cli/push-cluster.js',
      'publish',
      '--room',
      'compose-cli',
      '{"from":"the CLI"}',
    );
    const receipt = JSON.parse(printed) as { id: string; offset: number; idempotencyKey: string };
    expect(receipt).toMatchObject({ offset: 1, idempotencyKey: expect.any(String) });
    await waitFor(() => watchers.every((client) => client.receivedWithId(receipt.id) === 1), {
      what: 'the CLI message on every node',
    });
  });

  it('mints a token with the CLI inside a node, which the cluster accepts through nginx', async () => {
    const token = (
      await cluster.project.docker(
        'exec',
        nodes[0] as string,
        'node',
        'dist/cli/token.js',
        '--sub',
        'alice',
        '--rooms',
        'private:team-1',
        '--ttl',
        '10m',
      )
    ).trim();
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const alice = await connectClient(url, { token, transports: ['websocket'] });
    clients.push(alice);
    expect(alice.user).toBe('alice');
    expect(await alice.socket.emitWithAck('subscribe', 'private:team-1')).toEqual({
      ok: true,
      room: 'private:team-1',
      offset: 0,
      epoch: expect.any(String),
    });
    // A guest (the compose file allows them) may not.
    const guest = await connectClient(url, { transports: ['websocket'] });
    clients.push(guest);
    expect(guest.user).toMatch(/^guest-/);
    expect(await guest.socket.emitWithAck('subscribe', 'private:team-1')).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
  });

  it("keeps the admin side behind admin credentials through nginx, open on the nodes' admin port", async () => {
    // The compose file sets no ADMIN_API_KEY: through nginx only an admin token gets in.
    for (const path of ['/metrics', '/api/cluster']) {
      expect((await fetch(`${url}${path}`)).status).toBe(401);
      const user = await fetch(`${url}${path}`, {
        headers: { authorization: `Bearer ${await composeToken({ sub: 'someone' })}` },
      });
      expect(user.status).toBe(403);
    }
    const admin = `Bearer ${await composeToken({ sub: 'operator', admin: true })}`;
    const metrics = await fetch(`${url}/metrics`, { headers: { authorization: admin } });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^push_redis_up\{node="[0-9a-f]{12}"\} 1$/m);
    const overview = await waitFor(
      async () => {
        const response = await fetch(`${url}/api/cluster`, { headers: { authorization: admin } });
        const body = (await response.json()) as ClusterOverview;
        return body.nodes.length === 3 ? body : undefined;
      },
      { what: 'the three nodes in the overview' },
    );
    expect(overview).toMatchObject({ partial: false, totals: { nodes: 3 } });
    expect(overview.nodes.map((node) => node.node)).toEqual(nodes);

    const scrape =
      "fetch('http://127.0.0.1:9100/metrics').then(async (r) => { process.stdout.write(await r.text()); process.exit(r.ok ? 0 : 1); })";
    const text = await cluster.project.docker('exec', nodes[1] as string, 'node', '-e', scrape);
    expect(text).toMatch(new RegExp(`^push_redis_up\\{node="${nodes[1]}"\\} 1$`, 'm'));
    expect(text).toMatch(new RegExp(`^nodejs_eventloop_lag_seconds\\{node="${nodes[1]}"\\} `, 'm'));
  });

  it('answers in JSON when nginx itself refuses: a body over its limit, no node reachable', async () => {
    const tooLarge = await postPublish(url, COMPOSE_DEFAULT_API_KEY, {
      data: 'x'.repeat(2 * 1024 * 1024),
    });
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toMatchObject({ error: { code: 'payload_too_large' } });

    // Last in this file: every node goes away.
    await cluster.project.compose('stop', '-t', '10', 'node');
    const noNode = await postPublish(url, COMPOSE_DEFAULT_API_KEY, { data: 1 });
    expect(noNode.status).toBe(503);
    expect(noNode.headers.get('retry-after')).toBe('1');
    expect(await noNode.json()).toMatchObject({ error: { code: 'unavailable' } });
    const handshake = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
    expect(handshake.status).toBe(503);
  });
});
