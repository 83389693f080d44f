import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PublisherError, PushPublisher } from '../../src/publisher/index.js';

/** One request as the scripted cluster received it. */
interface Received {
  at: number;
  method: string;
  url: string;
  authorization: string;
  body: Record<string, unknown> | undefined;
}

/** How the scripted cluster answers one request: a status, a JSON body, headers; or a cut. */
type Reply = { status: number; body?: unknown; headers?: Record<string, string> } | 'cut';

const unknownOutcome: Reply = {
  status: 502,
  body: { error: { code: 'outcome_unknown', message: 'the node stopped' } },
};
const unavailable: Reply = {
  status: 503,
  body: { error: { code: 'unavailable', message: 'no Redis' } },
  headers: { 'retry-after': '1' },
};
const accepted: Reply = { status: 202, body: { id: 'm-1', offset: 7, epoch: 'e1' } };

let server: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/**
 * A scripted cluster on 127.0.0.1: answers the n-th request with `replies[n]` (the last one
 * again once the script is over), and records every request.
 */
async function scriptedCluster(...replies: Reply[]): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    req.on('end', () => {
      got.push({
        at: Date.now(),
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization ?? '',
        body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
      });
      const reply = replies[Math.min(got.length, replies.length) - 1] as Reply;
      if (reply === 'cut') {
        req.socket.destroy();
        return;
      }
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(JSON.stringify(reply.body ?? {}));
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, got };
}

/** A publisher with short waits, so that a script of retries runs in well under a second. */
function publisherFor(url: string, retryForMs = 10_000, apiKey: string | (() => string) = 'k1') {
  return new PushPublisher(url, { apiKey, retryForMs, backoffBaseMs: 10, backoffMaxMs: 50 });
}

describe('PushPublisher.publish', () => {
  it('sends an unknown outcome again under the same key, and reports it published once', async () => {
    const cluster = await scriptedCluster(unknownOutcome, 'cut', accepted);
    const outcome = await publisherFor(cluster.url).publish({ room: 'orders', data: { n: 1 } });
    expect(outcome).toMatchObject({ status: 'published', attempts: 3, receipt: { offset: 7 } });
    expect(cluster.got).toHaveLength(3);
    const keys = cluster.got.map((request) => request.body?.idempotencyKey);
    expect(typeof keys[0]).toBe('string');
    expect(new Set(keys).size).toBe(1);
    expect(outcome.status === 'published' && outcome.idempotencyKey).toBe(keys[0]);
    expect(cluster.got.every((r) => r.authorization === 'Bearer k1')).toBe(true);
  });

  it('keeps the caller’s own idempotency key', async () => {
    const cluster = await scriptedCluster(accepted);
    await publisherFor(cluster.url).publish({ user: 'alice', data: 1, idempotencyKey: 'order-9' });
    expect(cluster.got[0]?.body).toEqual({ user: 'alice', data: 1, idempotencyKey: 'order-9' });
  });

  it('never sends a refusal again', async () => {
    const cluster = await scriptedCluster({
      status: 400,
      body: { error: { code: 'invalid_room', message: 'bad room' } },
    });
    const outcome = await publisherFor(cluster.url).publish({ room: 'no spaces', data: 1 });
    expect(outcome).toEqual({
      status: 'refused',
      error: { code: 'invalid_room', message: 'bad room' },
      httpStatus: 400,
      attempts: 1,
    });
    expect(cluster.got).toHaveLength(1);
  });

  it('waits as long as Retry-After says before trying again', async () => {
    const cluster = await scriptedCluster(
      {
        status: 429,
        body: { error: { code: 'rate_limited', message: 'slow down' } },
        headers: { 'retry-after': '1' },
      },
      accepted,
    );
    const outcome = await publisherFor(cluster.url).publish({ room: 'orders', data: 1 });
    expect(outcome.status).toBe('published');
    const [first, second] = cluster.got as [Received, Received];
    expect(second.at - first.at).toBeGreaterThanOrEqual(950);
  });

  it('sends a message to everyone at most once: an unknown outcome is not sent again', async () => {
    const cluster = await scriptedCluster(unknownOutcome, accepted);
    const outcome = await publisherFor(cluster.url).publish({ data: 'to all' });
    expect(outcome).toMatchObject({ status: 'unknown', attempts: 1 });
    expect(cluster.got).toHaveLength(1);
    expect(cluster.got[0]?.body).toEqual({ data: 'to all' });
  });

  it('sends a message to everyone again while the cluster surely did not take it', async () => {
    const cluster = await scriptedCluster(
      { ...unavailable, headers: {} },
      { status: 202, body: { id: 'm-2' } },
    );
    const outcome = await publisherFor(cluster.url).publish({ data: 'to all' });
    expect(outcome).toMatchObject({ status: 'published', attempts: 2 });
  });

  it('gives up when its time is over: not published while only busy answers came', async () => {
    const cluster = await scriptedCluster({ ...unavailable, headers: {} });
    const outcome = await publisherFor(cluster.url, 300).publish({ room: 'orders', data: 1 });
    expect(outcome.status).toBe('not_published');
    expect(outcome.attempts).toBeGreaterThan(1);
    expect(outcome.attempts).toBe(cluster.got.length);
  });

  it('gives up as unknown once any attempt’s outcome was unknown, whatever came after', async () => {
    const cluster = await scriptedCluster(unknownOutcome, { ...unavailable, headers: {} });
    const outcome = await publisherFor(cluster.url, 300).publish({ room: 'orders', data: 1 });
    expect(outcome.status).toBe('unknown');
    const refusedLater = await scriptedCluster(unknownOutcome, {
      status: 401,
      body: { error: { code: 'unauthorized', message: 'wrong key' } },
    });
    const after = await publisherFor(refusedLater.url).publish({ room: 'orders', data: 1 });
    expect(after).toMatchObject({ status: 'unknown', error: { code: 'unauthorized' } });
  });

  it('counts a refused connection as not published', async () => {
    const closed = await scriptedCluster(accepted);
    const url = closed.url;
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
    const outcome = await publisherFor(url, 200).publish({ data: 'to all' });
    expect(outcome).toMatchObject({ status: 'not_published', error: { code: 'unavailable' } });
  });

  it('reads the key at every request, so that a rotated key takes effect at once', async () => {
    const cluster = await scriptedCluster(unknownOutcome, accepted);
    let key = 'old-key';
    const publisher = publisherFor(cluster.url, 10_000, () => key);
    const publishing = publisher.publish({ room: 'orders', data: 1 });
    key = 'new-key';
    await publishing;
    expect(cluster.got.map((request) => request.authorization)).toEqual([
      'Bearer old-key',
      'Bearer new-key',
    ]);
  });
});

describe('PushPublisher reads', () => {
  it('reads history, presence and the overview, trying again while the cluster is busy', async () => {
    const page = { room: 'orders', offset: 3, epoch: 'e', complete: true, messages: [] };
    const cluster = await scriptedCluster(
      { ...unavailable, headers: {} },
      { status: 200, body: page },
      { status: 200, body: { room: 'lobby', users: ['alice'] } },
      { status: 200, body: { node: 'node1', nodes: [] } },
    );
    const publisher = new PushPublisher(cluster.url, {
      apiKey: 'k1',
      adminKey: 'admin',
      backoffBaseMs: 10,
    });
    expect(await publisher.history('orders', { since: 2, epoch: 'e', limit: 5 })).toEqual(page);
    expect(await publisher.presence('lobby')).toEqual(['alice']);
    expect(await publisher.cluster()).toMatchObject({ node: 'node1' });
    expect(cluster.got.map((r) => `${r.method} ${r.url} ${r.authorization}`)).toEqual([
      'GET /api/rooms/orders/history?since=2&epoch=e&limit=5 Bearer k1',
      'GET /api/rooms/orders/history?since=2&epoch=e&limit=5 Bearer k1',
      'GET /api/rooms/lobby/presence Bearer k1',
      'GET /api/cluster Bearer admin',
    ]);
  });

  it('throws the cluster’s error for a refusal, and asks for the admin key it lacks', async () => {
    const cluster = await scriptedCluster({
      status: 400,
      body: { error: { code: 'bad_request', message: 'lobby does not track presence' } },
    });
    const publisher = publisherFor(cluster.url);
    const failure = await publisher.presence('lobby').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PublisherError);
    expect(failure).toMatchObject({ code: 'bad_request', httpStatus: 400 });
    await expect(publisher.cluster()).rejects.toMatchObject({ code: 'unauthorized' });
  });
});
