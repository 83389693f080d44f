import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/shared/free-port.js';
import { postPublish } from '../support/http-publish.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import { connectClient, subscribe, type TestClient } from '../support/test-client.js';
import { testToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * Redis goes away and comes back on the same address: nodes stay up, say they are not ready,
 * refuse publishes with `unavailable` instead of dropping them, and recover on their own.
 */
const run = promisify(execFile);
const API_KEY = 'redis-outage-test-key';
let redis: StartedTestContainer;
let nodes: InProcessNode[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  const port = await freePort();
  redis = await new GenericContainer('redis:7-bookworm')
    .withExposedPorts({ container: 6379, host: port })
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
    .start();
  const url = `redis://127.0.0.1:${port}`;
  nodes = await Promise.all(
    ['x', 'y'].map((id) =>
      startInProcessNode({
        NODE_ID: id,
        REDIS_URL: url,
        PUBLISH_API_KEYS: API_KEY,
        PRESENCE_ROOMS: 'outage',
      }),
    ),
  );
  await waitFor(() => nodes.every((node) => node.server.backend.isReady()), {
    what: 'nodes connected to Redis',
  });
});

afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.all(nodes.map((node) => node.server.close()));
  await redis?.stop();
});

const httpPublish = (node: InProcessNode, body: unknown) => postPublish(node.url, API_KEY, body);

describe('while Redis is down', () => {
  it('nodes stay up, report 503 on /readyz, refuse publishes, and recover when it returns', async () => {
    const [x, y] = nodes as [InProcessNode, InProcessNode];
    const onX = await connectClient(x.url, { transports: ['websocket'], token: await testToken() });
    const onY = await connectClient(y.url, { transports: ['websocket'], token: await testToken() });
    clients.push(onX, onY);
    for (const client of clients) await subscribe(client, 'outage');

    await run('docker', ['stop', '-t', '1', redis.getId()]);
    await waitFor(async () => (await fetch(`${x.url}/readyz`)).status === 503, {
      what: '/readyz 503 once Redis is gone',
    });
    expect((await fetch(`${x.url}/healthz`)).status).toBe(200);

    const refused = await httpPublish(x, { room: 'outage', data: 'lost?' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ error: { code: 'unavailable' } });
    // The HTTP routes that read Redis say so too, and when to try again.
    for (const path of ['history', 'presence']) {
      const read = await fetch(`${x.url}/api/rooms/outage/${path}`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      expect(read.status, path).toBe(503);
      expect(read.headers.get('retry-after'), path).toBe('1');
      expect(await read.json(), path).toMatchObject({ error: { code: 'unavailable' } });
    }
    const ack = await onX.socket.timeout(5000).emitWithAck('publish', { room: 'outage', data: 1 });
    expect(ack).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    expect(onX.socket.connected && onY.socket.connected).toBe(true);

    await run('docker', ['start', redis.getId()]);
    await waitFor(async () => (await fetch(`${y.url}/readyz`)).status === 200, {
      timeoutMs: 30_000,
      what: '/readyz 200 after Redis is back',
    });
    await waitFor(() => x.server.backend.isReady(), { timeoutMs: 30_000, what: 'x reconnected' });
    const accepted = await httpPublish(x, { room: 'outage', data: 'after the outage' });
    expect(accepted.status).toBe(202);
    const { id } = (await accepted.json()) as { id: string };
    await waitFor(() => onX.receivedWithId(id) === 1 && onY.receivedWithId(id) === 1, {
      what: 'cross-node delivery after Redis came back',
    });
    expect(onY.received.map((r) => r.envelope.data)).toEqual(['after the outage']);
  });

  it('a node shuts down cleanly while Redis is away: nothing left unhandled', async () => {
    // What the adapter sent meanwhile (a presence broadcast, its unsubscribes) is rejected when
    // the connection closes; a rejection nobody handles ends a real node (main.ts exits on one),
    // and fails this run (vitest reports it as an unhandled error).
    const z = await startInProcessNode({
      NODE_ID: 'z',
      REDIS_URL: `redis://127.0.0.1:${redis.getMappedPort(6379)}`,
      PUBLISH_API_KEYS: API_KEY,
      PRESENCE_ROOMS: 'outage',
    });
    try {
      await waitFor(() => z.server.backend.isReady(), { what: 'z connected to Redis' });
      const onZ = await connectClient(z.url, {
        transports: ['websocket'],
        token: await testToken(),
      });
      await subscribe(onZ, 'outage');
      await run('docker', ['stop', '-t', '1', redis.getId()]);
      await waitFor(() => !z.server.backend.isReady(), { what: 'z sees Redis gone' });
      const closing = Date.now();
      await z.server.close();
      // Bounded: each Redis connection gets 2 s to quit.
      expect(Date.now() - closing).toBeLessThan(15_000);
      // Rejections are reported a turn later than they happen.
      await new Promise((resolve) => setTimeout(resolve, 1000));
    } finally {
      await run('docker', ['start', redis.getId()]);
    }
  });
});
