import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PushClient, type TransportName } from '../../src/client/index.js';
import {
  COMPOSE_DEFAULT_API_KEY,
  type ComposeCluster,
  startComposeCluster,
} from '../support/compose-project.js';
import {
  auditDeliveries,
  caughtUp,
  type Observed,
  observe,
  publishing,
} from '../support/delivery-audit.js';
import { postPublish } from '../support/http-publish.js';
import {
  connectClient,
  connectOnEveryNode,
  settle,
  subscribe,
  type TestClient,
} from '../support/test-client.js';
import { sleep, waitFor, within } from '../support/wait.js';

/**
 * Any number of nodes without a hand edit: the compose file run with `--scale node=5`, as a user
 * scales it, then a sixth node added and one of the first five removed while clients stay. No
 * file names a node: each takes its container's id, listens in the shared socket directory, and
 * nginx (nginx/push-nginx.sh) finds it there.
 */
const NODES = 5;
/** Long-polling clients from one address (as behind one NAT): every request routed by session. */
const POLLING_CLIENTS = 40;
/** The crowd that lives through a node added and one removed, and the rate published to it. */
const CROWD = 30;
const RATE = 20;
/** Connecting and subscribing one client, at most, on a slow machine. */
const CONNECT_MS_PER_CLIENT = 200;
/** A node's start (image already built) until nginx balances to it, at most. */
const NODE_START_MS = 60_000;
/** A node's drain (DRAIN_DELAY_MS + DRAIN_SPREAD_MS, 5 s) within `docker stop`'s grace. */
const NODE_STOP_MS = 30_000;
/** Deliveries a slow machine still gets through per second while catching up. */
const CATCH_UP_DELIVERIES_PER_S = 1_000;

const TRANSPORT_MIX: Array<TransportName[] | undefined> = [
  ['polling'],
  ['polling', 'websocket'],
  undefined,
];

let cluster: ComposeCluster;
let nodes: string[];
const pollers: TestClient[] = [];
let crowd: Observed[] = [];

beforeAll(async () => {
  cluster = await startComposeCluster('pushscale', [], {}, NODES);
  nodes = await cluster.project.nodeIds();
});

afterAll(async () => {
  for (const client of pollers) client.close();
  for (const { client } of crowd) client.close();
  await cluster?.project.down();
});

/** The node ids nginx balanced `count` `/readyz` requests to. */
async function balancedTo(count: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${cluster.url}/readyz`);
    seen.add(response.headers.get('x-node-id') ?? `status ${response.status}`);
  }
  return seen;
}

describe(`docker compose up --scale node=${NODES}`, () => {
  it('spreads long-polling clients from one address over all five, each kept on its node', async () => {
    expect(nodes).toHaveLength(NODES);
    const failures: unknown[] = [];
    for (let i = 0; i < POLLING_CLIENTS; i++) {
      await connectClient(cluster.url, { transports: ['polling'], timeoutMs: 20_000 }).then(
        (client) => pollers.push(client),
        (error: unknown) => failures.push(error),
      );
    }
    expect(failures.map(String)).toEqual([]);
    expect(new Set(pollers.map((client) => client.node))).toEqual(new Set(nodes));
    // A session sent to a node that does not know it ends it ("Session ID unknown"): these
    // clients do not reconnect, so every request of every session must reach its own node.
    const ended: string[] = [];
    for (const client of pollers) {
      client.socket.on('disconnect', (reason) => ended.push(`${client.sid}: ${reason}`));
    }
    for (const client of pollers) await subscribe(client, 'scale-polling');
    // Every client's poll and its posts, several round trips each.
    await sleep(3000);
    expect(ended).toEqual([]);
    expect(pollers.filter((client) => !client.socket.connected)).toEqual([]);
  });

  it('delivers a publish to every client on every node', async () => {
    const response = await postPublish(cluster.url, COMPOSE_DEFAULT_API_KEY, {
      room: 'scale-polling',
      data: 'to all five',
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    await waitFor(() => pollers.every((client) => client.receivedWithId(id) === 1), {
      what: 'the message at every client',
      timeoutMs: 10_000 + POLLING_CLIENTS * 100,
    });
    await settle();
    expect(pollers.every((client) => client.receivedWithId(id) === 1)).toBe(true);
  });

  it('takes a node added and one removed while clients stay: nothing lost, everyone recovers', async () => {
    for (const client of pollers.splice(0)) client.close();
    const room = `scale-${Date.now().toString(36)}`;
    crowd = Array.from({ length: CROWD }, (_, index) =>
      observe(
        new PushClient(cluster.url, {
          transports: TRANSPORT_MIX[index % TRANSPORT_MIX.length],
          ackTimeoutMs: 20_000,
        }),
      ),
    );
    await within(
      (async () => {
        await Promise.all(crowd.map(({ client }) => client.ready()));
        await Promise.all(crowd.map(({ client }) => client.subscribe(room)));
      })(),
      10_000 + CROWD * CONNECT_MS_PER_CLIENT,
      `${CROWD} clients subscribed`,
    );
    const stream = publishing({
      url: cluster.url,
      apiKey: COMPOSE_DEFAULT_API_KEY,
      room,
      rate: RATE,
      retryForMs: NODE_STOP_MS + NODE_START_MS,
    });
    await sleep(2000);

    // A sixth node, with no edit: nginx balances to it once it is up.
    await cluster.project.up(NODES + 1);
    const grown = await cluster.project.nodeIds();
    const added = grown.find((node) => !nodes.includes(node));
    expect(grown).toHaveLength(NODES + 1);
    await waitFor(async () => (await balancedTo(12)).has(added as string), {
      timeoutMs: NODE_START_MS,
      intervalMs: 500,
      what: `nginx balancing to the added node ${added}`,
    });

    // One of the first five goes for good (drained, then removed), with clients on it.
    const onNode = (node: string) => crowd.filter(({ client }) => client.node === node).length;
    const removed = [...nodes].sort((a, b) => onNode(b) - onNode(a))[0] as string;
    expect(onNode(removed)).toBeGreaterThan(0);
    await cluster.project.docker('stop', '-t', String(NODE_STOP_MS / 1000), removed);
    await cluster.project.docker('rm', removed);
    await waitFor(async () => !(await balancedTo(12)).has(removed), {
      timeoutMs: 20_000,
      intervalMs: 500,
      what: `the removed node ${removed} out of nginx's balancing`,
    });
    await sleep(3000);

    const published = await stream.stop();
    const catchUpMs =
      10_000 + ((published.accepted.length * CROWD) / CATCH_UP_DELIVERIES_PER_S) * 1000;
    await waitFor(() => crowd.every((o) => o.notRecovered > 0 || caughtUp(o, published.accepted)), {
      timeoutMs: catchUpMs,
      intervalMs: 250,
      what: 'every accepted message at every client',
    }).catch(() => undefined);
    const figures = auditDeliveries('scale: node added and node removed', crowd, published);
    expect(published.accepted.length).toBeGreaterThan(RATE * 3);
    // The removed node's clients came back elsewhere; no client is left on it.
    expect(figures.reconnected).toBeGreaterThan(0);
    expect(crowd.filter(({ client }) => client.node === removed)).toEqual([]);
    console.log(
      `scale: clients per node after: ${JSON.stringify(Object.fromEntries(grown.map((node) => [node, onNode(node)])))}`,
    );

    // Every node there now, the added one too, serves sessions and delivers across nodes.
    const present = grown.filter((node) => node !== removed);
    // WebSocket clients: nginx balances new sessions by the connections each node holds in
    // push_nodes, which a long-polling session leaves after its handshake (its polls go to its
    // node's own upstream). Held long-polling clients would not move nginx off the nodes the
    // reconnected WebSocket clients left emptier, and a node that got several could stay unreached.
    const watchers = await connectOnEveryNode(cluster.url, present, {
      transports: ['websocket'],
      maxAttempts: 200,
    }).catch(async (error: unknown) => {
      // What nginx's node list was meanwhile (push-nginx.sh says each list it applies).
      const lines = await cluster.project.compose('logs', '--no-color', 'nginx');
      console.log(
        lines
          .split('\n')
          .filter((line) => line.includes('push-nginx'))
          .join('\n'),
      );
      throw error;
    });
    pollers.push(...watchers);
    for (const client of watchers) await subscribe(client, room);
    const response = await postPublish(cluster.url, COMPOSE_DEFAULT_API_KEY, { room, data: -2 });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    await waitFor(() => watchers.every((client) => client.receivedWithId(id) === 1), {
      what: 'the message on every node, the added one too',
    });
  });
});
