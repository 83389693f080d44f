import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/shared/free-port.js';
import { retryOnPortClash } from '../../bench/targets/local-process.js';
import { postPublish } from '../support/http-publish.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import { connectClient, emitAck, subscribe } from '../support/test-client.js';
import { testToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * `GET /metrics` in Prometheus's text format, moving as a scripted session goes: connect,
 * subscribe, publish, refuse, disconnect. Asserted on the parsed text.
 */
const API_KEY = 'metrics-test-publish-key';
const ADMIN_KEY = 'metrics-test-admin-key';
let node: InProcessNode;
let adminPort: number;

beforeAll(async () => {
  // Again on a clash: the port was free when picked, not necessarily when listened on.
  node = await retryOnPortClash(async () => {
    adminPort = await freePort();
    return startInProcessNode({
      NODE_ID: 'metered',
      PUBLISH_API_KEYS: API_KEY,
      ADMIN_API_KEY: ADMIN_KEY,
      ADMIN_PORT: String(adminPort),
    });
  });
});
afterAll(() => node?.server.close());

type Samples = Map<string, number>;

/** Parses the text format: `name{label="value",…} number` lines, keyed without the node label. */
function parse(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not the text format: ${line}`);
    const [, name, labels = '', value] = match;
    const kept = labels
      .replace(/^\{|\}$/g, '')
      .split(',')
      .filter((label) => label !== '' && !label.startsWith('node='));
    samples.set(kept.length === 0 ? (name as string) : `${name}{${kept.join(',')}}`, Number(value));
  }
  return samples;
}

async function scrape(): Promise<Samples> {
  const response = await fetch(`${node.url}/metrics`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  // Every series carries the node.
  for (const line of text.split('\n').filter((l) => l !== '' && !l.startsWith('#'))) {
    expect(line, line).toMatch(/node="metered"/);
  }
  return parse(text);
}

const value = (samples: Samples, key: string) => samples.get(key) ?? 0;

describe('metrics', () => {
  it('are only for the admin: its key on the public port, no key on ADMIN_PORT', async () => {
    expect((await fetch(`${node.url}/metrics`)).status).toBe(401);
    expect(
      (
        await fetch(`${node.url}/metrics`, {
          headers: { authorization: 'Bearer wrong-wrong-wrong' },
        })
      ).status,
    ).toBe(401);
    const open = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
    expect(open.status).toBe(200);
    expect(await open.text()).toMatch(
      /^push_connections\{transport="websocket",node="metered"\} \d+$/m,
    );
    // The admin port serves nothing else.
    expect(
      (await fetch(`http://127.0.0.1:${adminPort}/api/publish`, { method: 'POST' })).status,
    ).toBe(404);
  });

  it('move through a session: connect, subscribe, publish, refuse, disconnect', async () => {
    const before = await scrape();
    expect(before.get('nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(before.get('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(value(before, 'push_redis_up')).toBe(1);

    const ws = await connectClient(node.url, {
      token: await testToken(),
      transports: ['websocket'],
    });
    const polling = await connectClient(node.url, {
      token: await testToken(),
      transports: ['polling'],
    });
    await subscribe(ws, 'metered-room');
    await subscribe(polling, 'metered-room');
    const connected = await scrape();
    expect(value(connected, 'push_connections{transport="websocket"}')).toBe(
      value(before, 'push_connections{transport="websocket"}') + 1,
    );
    expect(value(connected, 'push_connections{transport="polling"}')).toBe(
      value(before, 'push_connections{transport="polling"}') + 1,
    );
    expect(value(connected, 'push_rooms')).toBe(value(before, 'push_rooms') + 1);
    expect(value(connected, 'push_subscriptions')).toBe(value(before, 'push_subscriptions') + 2);

    await emitAck(ws, 'publish', { room: 'metered-room', data: 1 });
    expect((await postPublish(node.url, API_KEY, { room: 'metered-room', data: 2 })).status).toBe(
      202,
    );
    expect((await postPublish(node.url, API_KEY, { data: 'all' })).status).toBe(202);
    await waitFor(() => ws.received.length === 3 && polling.received.length === 3, {
      what: 'deliveries',
    });
    // Refusals: a bad room over the socket, a wrong key over HTTP, a refused connection.
    await emitAck(ws, 'subscribe', 'bad room');
    await postPublish(node.url, 'not-the-key-not-the-key', { data: 1 });
    await connectClient(node.url, { token: 'forged', transports: ['websocket'] }).catch(
      () => undefined,
    );
    ws.close();
    polling.close();
    await waitFor(
      async () =>
        value(await scrape(), 'push_subscriptions') === value(before, 'push_subscriptions'),
      {
        what: 'subscriptions gone',
      },
    );

    const after = await scrape();
    const grew = (key: string) => value(after, key) - value(before, key);
    expect(grew('push_messages_published_total{source="socket",kind="room"}')).toBe(1);
    expect(grew('push_messages_published_total{source="http",kind="room"}')).toBe(1);
    expect(grew('push_messages_published_total{source="http",kind="everyone"}')).toBe(1);
    expect(grew('push_messages_delivered_total')).toBe(4);
    expect(grew('push_publish_to_redis_seconds_count')).toBe(2);
    expect(grew('push_refusals_total{code="invalid_room"}')).toBe(1);
    expect(grew('push_refusals_total{code="unauthorized"}')).toBe(1);
    expect(grew('push_refusals_total{code="token_invalid"}')).toBe(1);
    expect(grew('push_disconnects_total{reason="client namespace disconnect"}')).toBe(2);
    expect(value(after, 'push_connections{transport="websocket"}')).toBe(
      value(before, 'push_connections{transport="websocket"}'),
    );
  });

  it('count recoveries and what they replayed', async () => {
    const before = await scrape();
    const client = await connectClient(node.url, {
      token: await testToken(),
      transports: ['websocket'],
    });
    const { epoch } = (await emitAck(client, 'subscribe', 'replayed-room')) as { epoch: string };
    client.close();
    for (let i = 0; i < 3; i++)
      await postPublish(node.url, API_KEY, { room: 'replayed-room', data: i });
    const back = await connectClient(node.url, {
      token: await testToken(),
      transports: ['websocket'],
    });
    expect(
      await emitAck(back, 'subscribe', 'replayed-room', { since: { offset: 0, epoch } }),
    ).toMatchObject({ recovered: true });
    expect(
      await emitAck(back, 'subscribe', 'other-room', { since: { offset: 5, epoch: 'gone' } }),
    ).toMatchObject({ recovered: false });
    back.close();
    const after = await scrape();
    expect(
      value(after, 'push_recoveries_total{outcome="recovered"}') -
        value(before, 'push_recoveries_total{outcome="recovered"}'),
    ).toBe(1);
    expect(
      value(after, 'push_recoveries_total{outcome="not_recovered"}') -
        value(before, 'push_recoveries_total{outcome="not_recovered"}'),
    ).toBe(1);
    expect(
      value(after, 'push_history_replayed_messages_total') -
        value(before, 'push_history_replayed_messages_total'),
    ).toBe(3);
  });
});
