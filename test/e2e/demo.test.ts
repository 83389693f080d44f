import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/token-signer.js';
import { AdminPage, DemoPage, launchChromium, openDemoAvoiding } from '../support/browser.js';
import {
  COMPOSE_DEFAULT_API_KEY,
  COMPOSE_DEFAULT_JWT_SECRET,
  type ComposeCluster,
  startComposeCluster,
} from '../support/compose-project.js';
import { postPublish } from '../support/http-publish.js';
import { settle } from '../support/test-client.js';

/**
 * The demo page in real Chromium, against the compose cluster through nginx: what a person sees
 * when they open http://localhost:8080.
 */
let cluster: ComposeCluster;
let browser: Browser;
let pages: Array<DemoPage | AdminPage> = [];
let testCount = 0;
/** The three nodes' ids (their containers' short ids). */
let nodes: string[];
/** Nodes a test stopped, started again after it. */
const stoppedNodes: string[] = [];

beforeAll(async () => {
  cluster = await startComposeCluster('pushe2e');
  nodes = await cluster.project.nodeIds();
  browser = await launchChromium();
});

afterEach(async () => {
  await Promise.all(pages.map((page) => page.close()));
  pages = [];
  // A node a test stopped comes back, whether the test passed or not, so the next test finds the
  // whole cluster.
  if (stoppedNodes.length > 0) await cluster.project.docker('start', ...stoppedNodes.splice(0));
});

afterAll(async () => {
  await browser?.close();
  await cluster?.project.down();
});

/** A fresh room guests may write to (the compose file's GUEST_PUBLISH allows `demo:*`). */
const uniqueRoom = (label: string) => `demo:e2e-${label}-${++testCount}-${Date.now().toString(36)}`;
const open = async (avoid: readonly string[], query = '') => {
  const page = await openDemoAvoiding(browser, `${cluster.url}/${query}`, avoid);
  pages.push(page);
  return page;
};

/** Two pages on different nodes and one outsider; the first two join `room`. */
async function twoNodesAndAnOutsider(room: string, query = '') {
  const alice = await open([], query);
  const bob = await open([await alice.node()], query);
  const outsider = await open([], query);
  await alice.join(room);
  await bob.join(room);
  return { alice, bob, outsider };
}

/** A message typed in one page shows up in the other within 1 s, both ways. */
async function exchange(alice: DemoPage, bob: DemoPage, room: string) {
  await alice.send(room, 'hello from alice');
  await bob.waitForMessage('hello from alice', 1000);
  await bob.send(room, 'hello from bob');
  await alice.waitForMessage('hello from bob', 1000);
  // Origin node and room, as the page shows them.
  const fromAlice = bob.messages('hello from alice').first();
  expect(await fromAlice.getAttribute('data-origin')).toBe(await alice.node());
  expect(await fromAlice.getAttribute('data-room')).toBe(room);
}

/** Publishes a chat message to `room` over HTTP through nginx, as a backend would; expects 202. */
async function publishFromBackend(room: string, author: string, text: string) {
  const response = await postPublish(cluster.url, COMPOSE_DEFAULT_API_KEY, {
    room,
    event: 'chat',
    data: { author, text },
  });
  expect(response.status).toBe(202);
}

function expectNoProblems(...demoPages: DemoPage[]) {
  for (const page of demoPages)
    expect(page.problems).toEqual({
      consoleErrors: [],
      pageErrors: [],
      failedResponses: [],
    });
}

describe('the demo page through nginx', () => {
  it('lets two people on different nodes talk in a room; an outsider sees nothing', async () => {
    const room = uniqueRoom('ws');
    const { alice, bob, outsider } = await twoNodesAndAnOutsider(room);
    expect(await alice.node()).not.toBe(await bob.node());
    await exchange(alice, bob, room);
    await alice.page.getByTestId('transport').filter({ hasText: 'websocket' }).waitFor();
    await settle();
    expect(await outsider.messages('hello from').count()).toBe(0);
    await alice.screenshot('room-chat-websocket');
    await bob.screenshot('room-chat-websocket-other-node');

    // Leaving with the keyboard-reachable Leave button stops delivery to that page.
    await alice.page.getByRole('button', { name: `Leave ${room}` }).click();
    await alice.page
      .getByTestId('notice')
      .filter({ hasText: `Left #${room}` })
      .waitFor();
    await bob.send(room, 'after alice left');
    await bob.waitForMessage('after alice left');
    await settle();
    expect(await alice.messages('after alice left').count()).toBe(0);
    expectNoProblems(alice, bob, outsider);
  });

  it('works the same over long-polling only, without a single failed request', async () => {
    const room = uniqueRoom('polling');
    const { alice, bob, outsider } = await twoNodesAndAnOutsider(room, '?transport=polling');
    expect(await alice.node()).not.toBe(await bob.node());
    await exchange(alice, bob, room);
    expect(await alice.transport()).toBe('polling');
    expect(await bob.transport()).toBe('polling');
    await settle();
    expect(await outsider.messages('hello from').count()).toBe(0);
    await alice.screenshot('room-chat-polling');
    // No "Session ID unknown" (HTTP 400) or any other failed request.
    expectNoProblems(alice, bob, outsider);
  });

  it('shows a message published by a backend over HTTP in every page in the room', async () => {
    const room = uniqueRoom('http');
    const { alice, bob } = await twoNodesAndAnOutsider(room);
    await publishFromBackend(room, 'backend', 'deploy finished');
    await alice.waitForMessage('deploy finished');
    await bob.waitForMessage('deploy finished');
    await bob.screenshot('http-publish');
    expectNoProblems(alice, bob);
  });

  it('works on a narrow screen', async () => {
    const page = await DemoPage.open(browser, cluster.url, {
      viewport: { width: 390, height: 800 },
    });
    pages.push(page);
    const width = await page.page.evaluate('document.documentElement.scrollWidth');
    expect(width).toBeLessThanOrEqual(390);
    await page.send('lobby', 'hello from a phone');
    await page.waitForMessage('hello from a phone');
    await page.screenshot('narrow-screen');
    expectNoProblems(page);
  });

  it('survives the loss of its node: reconnects through nginx, rejoins, keeps receiving', async () => {
    const room = uniqueRoom('failover');
    const page = await open([]);
    await page.join(room);
    const lost = await page.node();
    await cluster.project.docker('stop', '-t', '10', lost);
    stoppedNodes.push(lost);

    await page.page
      .getByTestId('notice')
      .filter({ hasText: 'Reconnected through the load balancer' })
      .waitFor({ timeout: 20_000 });
    // Back on another node, it recovered both rooms from their history.
    await page.page
      .getByTestId('notice')
      .filter({
        hasText: `Rejoined #lobby, #${room}. Caught up on what #lobby, #${room} sent meanwhile.`,
      })
      .waitFor();
    await page.waitForState('connected');
    const now = await page.node();
    expect(now).not.toBe(lost);
    expect(nodes).toContain(now);

    await publishFromBackend(room, 'ops', 'still here?');
    await page.waitForMessage('still here?');
    await page.screenshot('after-failover');
    expect(page.problems.pageErrors).toEqual([]);
  });
});

describe('the admin page through nginx', () => {
  /** A token signed with the compose file's development secret, as `npm run token` makes one. */
  const composeToken = (sub: string, admin: boolean) =>
    signToken(COMPOSE_DEFAULT_JWT_SECRET, { sub, admin, ttlSeconds: 600 });
  const eventually = async (what: string, check: () => Promise<boolean>) => {
    const deadline = Date.now() + 20_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`the admin page never showed ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  it('takes only an admin credential, then shows the nodes and rooms and follows them live', async () => {
    const admin = await AdminPage.open(browser, `${cluster.url}/admin`);
    pages.push(admin);
    await admin.signIn(await composeToken('not-an-operator', false));
    await eventually('the refusal', async () => (await admin.state()) === 'refused');
    expect(await admin.error()).toContain('403 forbidden');

    await admin.signIn(await composeToken('operator', true));
    await eventually('three ready nodes', async () => {
      const shown = await admin.nodes();
      return JSON.stringify(shown) === JSON.stringify(nodesReady());
    });
    expect(await admin.state()).toBe('live');
    expect(await admin.page.getByTestId('credential-form').isVisible()).toBe(false);

    // A person joins a room: the page shows it without being reloaded.
    const room = uniqueRoom('admin');
    const person = await open([]);
    await person.join(room);
    await eventually(`${room} with 1 member`, async () => (await admin.members(room)) === 1);
    await admin.screenshot('admin-page');

    // Their node stops (drains): it leaves the list, and the person, reconnected to another
    // node, is still counted in the room.
    const lost = await person.node();
    await cluster.project.docker('stop', '-t', '10', lost);
    stoppedNodes.push(lost);
    await eventually(`${lost} gone`, async () => {
      const shown = await admin.nodes();
      return shown.length === 2 && !shown.some(([node]) => node === lost);
    });
    await person.waitForState('connected');
    await eventually(`${room} with 1 member again`, async () => (await admin.members(room)) === 1);
    // The refused credential was the only failed request.
    expect(admin.problems.pageErrors).toEqual([]);
    expect(admin.problems.failedResponses).toEqual([
      expect.stringMatching(/^GET .*\/api\/cluster → 403$/),
    ]);
  });
});

/** The admin page's node list when all three are ready. */
const nodesReady = () => nodes.map((node) => [node, 'ready']);
