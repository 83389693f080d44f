import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PushClient } from '../../src/client/index.js';
import { PublisherError, PushPublisher } from '../../src/publisher/index.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import { testToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * The backend publisher against a real node: what it sends is what the HTTP API takes, and what
 * it reads back (history, presence, overview) has the shapes it promises.
 */
const API_KEY = 'publisher-test-key';
const ADMIN_KEY = 'publisher-test-admin';
let node: InProcessNode;
let client: PushClient;
let publisher: PushPublisher;

beforeAll(async () => {
  node = await startInProcessNode({
    PUBLISH_API_KEYS: `${API_KEY},publisher-next-key`,
    ADMIN_API_KEY: ADMIN_KEY,
    PRESENCE_ROOMS: 'pub-presence*',
  });
  client = new PushClient(node.url, { token: await testToken({ sub: 'pub-alice' }) });
  publisher = new PushPublisher(node.url, { apiKey: API_KEY, adminKey: ADMIN_KEY });
});

afterAll(async () => {
  client?.close();
  await node?.server.close();
});

describe('PushPublisher against a node', () => {
  it('publishes to a room once, however often the same key is sent', async () => {
    const got: unknown[] = [];
    client.on('order', (envelope) => got.push(envelope.data));
    await client.subscribe('pub-orders');
    const first = await publisher.publish({
      room: 'pub-orders',
      event: 'order',
      data: { n: 1 },
      idempotencyKey: 'order-1',
    });
    const again = await publisher.publish({
      room: 'pub-orders',
      event: 'order',
      data: { n: 1 },
      idempotencyKey: 'order-1',
    });
    expect(first).toMatchObject({ status: 'published', attempts: 1, receipt: { offset: 1 } });
    expect(again).toMatchObject({ status: 'published', receipt: { offset: 1, duplicate: true } });
    await waitFor(() => got.length === 1, { what: 'the message delivered' });
    const page = await publisher.history('pub-orders', { since: 0 });
    expect(page).toMatchObject({ room: 'pub-orders', offset: 1, complete: true });
    expect(page.messages.map((m) => [m.event, m.envelope.data])).toEqual([['order', { n: 1 }]]);
  });

  it('publishes to a user, and is refused for a bad room without trying again', async () => {
    const got: unknown[] = [];
    client.on('note', (envelope) => got.push(envelope.data));
    await client.ready();
    expect(await publisher.publish({ user: 'pub-alice', event: 'note', data: 'hi' })).toMatchObject(
      { status: 'published' },
    );
    await waitFor(() => got.length === 1, { what: 'the user message delivered' });
    expect(await publisher.publish({ room: 'no spaces here', data: 1 })).toMatchObject({
      status: 'refused',
      httpStatus: 400,
      error: { code: 'invalid_room' },
      attempts: 1,
    });
  });

  it('reads presence and the overview; a key the cluster does not know is refused', async () => {
    await client.subscribe('pub-presence-lobby');
    await waitFor(async () => (await publisher.presence('pub-presence-lobby')).length === 1, {
      what: 'alice present',
    });
    expect(await publisher.presence('pub-presence-lobby')).toEqual(['pub-alice']);
    const overview = await publisher.cluster();
    expect(overview.nodes.map((n) => n.node)).toEqual([node.id]);
    const rotated = new PushPublisher(node.url, { apiKey: 'publisher-next-key' });
    expect((await rotated.publish({ room: 'pub-orders', data: 2 })).status).toBe('published');
    const stranger = new PushPublisher(node.url, { apiKey: 'not-a-key' });
    expect(await stranger.publish({ room: 'pub-orders', data: 3 })).toMatchObject({
      status: 'refused',
      httpStatus: 401,
    });
    await expect(stranger.history('pub-orders')).rejects.toBeInstanceOf(PublisherError);
  });
});
