import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/shared/free-port.js';
import { retryOnPortClash } from '../../bench/targets/local-process.js';
import type { ClusterOverview, NodeStatus } from '../../src/protocol/index.js';
import { postPublish } from '../support/http-publish.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import { connectClient, subscribe, type TestClient } from '../support/test-client.js';
import { testToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * `GET /api/cluster`: three nodes on one Redis, each filing its report; any of them answers for
 * all, and never waits long for a node or for Redis.
 */
const run = promisify(execFile);
const ADMIN_KEY = 'overview-test-admin-key';
const API_KEY = 'overview-test-publish-key';
let redis: StartedTestContainer;
let a: InProcessNode;
let b: InProcessNode;
let c: InProcessNode;
let adminPort: number;
const clients: TestClient[] = [];

beforeAll(async () => {
  redis = await new GenericContainer('redis:7-bookworm')
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
    .start();
  await redisCli('ACL', 'SETUSER', 'ov-c', 'on', '>ov-c-secret', '~*', '&*', '+@all');
  const env = {
    REDIS_URL: `redis://127.0.0.1:${redis.getMappedPort(6379)}`,
    ADMIN_API_KEY: ADMIN_KEY,
    PUBLISH_API_KEYS: API_KEY,
  };
  // The node on a chosen port first: a port picked by the kernel for a sibling starting at the
  // same moment could be that very port, just released by freePort().
  // (And again on a clash: the port was free when picked, not necessarily when listened on.)
  a = await retryOnPortClash(async () => {
    adminPort = await freePort();
    return startInProcessNode({ NODE_ID: 'ov-a', ADMIN_PORT: String(adminPort), ...env });
  });
  [b, c] = await Promise.all([
    startInProcessNode({ NODE_ID: 'ov-b', ...env }),
    // ov-c logs in as a Redis user of its own: the last test cuts it off by disabling that user.
    startInProcessNode({
      NODE_ID: 'ov-c',
      ...env,
      REDIS_URL: `redis://ov-c:ov-c-secret@127.0.0.1:${redis.getMappedPort(6379)}`,
    }),
  ]);
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

afterAll(async () => {
  await Promise.all([a?.server.close(), b?.server.close(), c?.server.close()]);
  await redis?.stop();
});

async function redisCli(...args: string[]): Promise<void> {
  const { exitCode, output } = await redis.exec(['redis-cli', ...args]);
  if (exitCode !== 0 || /^ERR/m.test(output))
    throw new Error(`redis-cli ${args.join(' ')}: ${output}`);
}

/** The overview from `node`; it must answer within 3 s, whatever is down. */
async function overview(node: InProcessNode): Promise<ClusterOverview> {
  const response = await fetch(`${node.url}/api/cluster`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
    signal: AbortSignal.timeout(3000),
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('cache-control')).toBe('no-store');
  return (await response.json()) as ClusterOverview;
}

const nodeIn = (view: ClusterOverview, id: string): NodeStatus | undefined =>
  view.nodes.find((node) => node.node === id);
const membersOf = (view: ClusterOverview, room: string) =>
  view.rooms.find((entry) => entry.room === room)?.members;

async function client(node: InProcessNode, transport: 'websocket' | 'polling', rooms: string[]) {
  const connected = await connectClient(node.url, {
    token: await testToken(),
    transports: [transport],
  });
  clients.push(connected);
  for (const room of rooms) await subscribe(connected, room);
  return connected;
}

describe('GET /api/cluster', () => {
  it('is for the admin: its key or a token with "admin": true (404 where neither exists)', async () => {
    const ask = (url: string, credential?: string) =>
      fetch(`${url}/api/cluster`, {
        headers: credential === undefined ? {} : { authorization: `Bearer ${credential}` },
      });
    const none = await ask(a.url);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(await none.json()).toMatchObject({ error: { code: 'unauthorized' } });
    expect((await ask(a.url, 'not-the-admin-key')).status).toBe(401);

    const user = await ask(a.url, await testToken());
    expect(user.status).toBe(403);
    expect(await user.json()).toMatchObject({ error: { code: 'forbidden' } });
    const forged = await ask(a.url, await testToken({ admin: true }, 'x'.repeat(40)));
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({
      error: { code: 'unauthorized', message: expect.stringContaining('token_invalid') },
    });
    expect((await ask(a.url, await testToken({ admin: true }))).status).toBe(200);
    // The admin port needs nothing; the metrics take the same credentials.
    expect((await ask(`http://127.0.0.1:${adminPort}`)).status).toBe(200);
    const metrics = await fetch(`${a.url}/metrics`, {
      headers: { authorization: `Bearer ${await testToken({ admin: true })}` },
    });
    expect(metrics.status).toBe(200);

    // No admin key and no token key: there is no admin side on the public port.
    const bare = await startInProcessNode({ NODE_ID: 'ov-bare', AUTH_JWT_SECRET: '' });
    try {
      expect((await ask(bare.url, ADMIN_KEY)).status).toBe(404);
      expect((await fetch(`${bare.url}/metrics`)).status).toBe(404);
    } finally {
      await bare.server.close();
    }
  });

  it('lists every node with its figures, and the rooms summed over the nodes', async () => {
    await client(a, 'websocket', ['ov-shared', 'ov-only-a']);
    await client(a, 'websocket', ['ov-shared']);
    await client(b, 'polling', ['ov-shared']);
    await client(c, 'websocket', []);

    const view = await waitFor(
      async () => {
        const seen = await overview(c);
        return membersOf(seen, 'ov-shared') === 3 && nodeIn(seen, 'ov-b')?.connections.total === 1
          ? seen
          : undefined;
      },
      { what: 'an overview with every client' },
    );
    expect(view).toMatchObject({ node: 'ov-c', partial: false, problems: [] });
    expect(view.nodes.map((node) => node.node)).toEqual(['ov-a', 'ov-b', 'ov-c']);
    for (const node of view.nodes) {
      expect(node).toMatchObject({ state: 'ready', stale: false });
      expect(node.ageMs).toBeLessThanOrEqual(5000);
      expect(node.instance).toMatch(new RegExp(`^${node.node}:`));
      expect(node.startedAt).toBeLessThanOrEqual(node.reportedAt);
    }
    expect(nodeIn(view, 'ov-a')).toMatchObject({
      connections: { total: 2, websocket: 2, polling: 0 },
      rooms: 2,
      subscriptions: 3,
      topRooms: [
        { room: 'ov-shared', members: 2 },
        { room: 'ov-only-a', members: 1 },
      ],
      roomsTruncated: false,
    });
    expect(nodeIn(view, 'ov-b')).toMatchObject({
      connections: { total: 1, websocket: 0, polling: 1 },
    });
    expect(nodeIn(view, 'ov-c')).toMatchObject({ rooms: 0, subscriptions: 0 });
    expect(view.rooms).toEqual([
      { room: 'ov-shared', members: 3 },
      { room: 'ov-only-a', members: 1 },
    ]);
    expect(view.totals).toMatchObject({ nodes: 3, connections: 4, subscriptions: 4 });

    // Rates: messages published on ov-a, delivered on ov-a and ov-b.
    for (let i = 0; i < 40; i++) {
      expect((await postPublish(a.url, API_KEY, { room: 'ov-shared', data: i })).status).toBe(202);
    }
    // Each node's rates are averages over its latest 2 s: seen at some point, not all at once.
    const seen = new Set<string>();
    await waitFor(
      async () => {
        const view = await overview(b);
        if ((nodeIn(view, 'ov-a')?.rates.published ?? 0) > 0) seen.add('published on ov-a');
        if ((nodeIn(view, 'ov-a')?.rates.delivered ?? 0) > 0) seen.add('delivered on ov-a');
        if ((nodeIn(view, 'ov-b')?.rates.delivered ?? 0) > 0) seen.add('delivered on ov-b');
        if ((nodeIn(view, 'ov-b')?.rates.published ?? 0) > 0) seen.add('published on ov-b');
        if (view.totals.rates.published > 0) seen.add('published in the totals');
        return seen.size >= 4;
      },
      { what: 'rates in the reports' },
    );
    expect([...seen].sort()).toEqual([
      'delivered on ov-a',
      'delivered on ov-b',
      'published in the totals',
      'published on ov-a',
    ]);
  });

  it('drops a node that stops at once: it withdraws its report', async () => {
    const d = await startInProcessNode({
      NODE_ID: 'ov-d',
      REDIS_URL: `redis://127.0.0.1:${redis.getMappedPort(6379)}`,
    });
    try {
      await waitFor(async () => nodeIn(await overview(a), 'ov-d') !== undefined, {
        what: 'ov-d in the overview',
      });
    } finally {
      await d.server.close();
    }
    const view = await overview(a);
    expect(view.nodes.map((node) => node.node)).toEqual(['ov-a', 'ov-b', 'ov-c']);
    expect(view.partial).toBe(false);
  });

  it('answers at once with only the answering node when Redis does not answer', async () => {
    await run('docker', ['pause', redis.getId()]);
    try {
      const started = Date.now();
      const view = await overview(b);
      console.log(`overview with Redis paused answered in ${Date.now() - started} ms`);
      expect(view.partial).toBe(true);
      expect(view.problems).toEqual([expect.stringMatching(/^Redis did not answer within/)]);
      expect(view.nodes.map((node) => node.node)).toEqual(['ov-b']);
    } finally {
      await run('docker', ['unpause', redis.getId()]);
    }
    await waitFor(async () => (await overview(b)).nodes.length === 3, {
      what: 'every node again once Redis answers',
    });
  });

  it('marks a node cut off from Redis stale and leaves its rooms out; that node lists itself', async () => {
    await client(c, 'websocket', ['ov-on-c']);
    await waitFor(async () => membersOf(await overview(a), 'ov-on-c') === 1, {
      what: "ov-c's room in the overview",
    });
    // Redis refuses ov-c from now on: its connections are cut and cannot log in again.
    await redisCli('ACL', 'SETUSER', 'ov-c', 'off');
    await redisCli('CLIENT', 'KILL', 'USER', 'ov-c');
    const view = await waitFor(
      async () => {
        const seen = await overview(a);
        return nodeIn(seen, 'ov-c')?.stale ? seen : undefined;
      },
      { timeoutMs: 10_000, what: 'ov-c stale' },
    );
    expect(view.partial).toBe(true);
    expect(view.problems).toEqual([expect.stringMatching(/^ov-c: no report for \d+ s/)]);
    // Its last known figures are shown, not counted.
    expect(nodeIn(view, 'ov-c')?.connections.total).toBe(1);
    expect(view.totals.nodes).toBe(2);
    expect(membersOf(view, 'ov-on-c')).toBeUndefined();

    const itself = await overview(c);
    expect(itself.partial).toBe(true);
    expect(itself.problems).toEqual([expect.stringMatching(/^Redis is unreachable/)]);
    expect(itself.nodes.map((node) => node.node)).toEqual(['ov-c']);
    expect(nodeIn(itself, 'ov-c')?.state).toBe('redis_down');
  });
});
