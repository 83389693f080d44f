import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/shared/free-port.js';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';
import { launchChromium } from '../support/browser.js';
import {
  COMPOSE_DEFAULT_API_KEY,
  type ComposeCluster,
  startComposeCluster,
} from '../support/compose-project.js';
import { waitFor } from '../support/wait.js';

/**
 * examples/flask: a Flask server (Debian's python3-flask) publishing through the compose cluster
 * with the Python publisher, and its page in Chromium subscribing with /push-client.js: a
 * message submitted on one page appears on pages connected to other nodes.
 */
const PYTHON = process.env.PYTHON_PATH ?? '/usr/bin/python3';
const EXAMPLE = join(REPO_ROOT, 'examples', 'flask');
let cluster: ComposeCluster;
let flask: ChildProcess | undefined;
let flaskUrl: string;
let flaskLog = '';
let browser: Browser;

beforeAll(async () => {
  const flaskPort = await freePort();
  flaskUrl = `http://127.0.0.1:${flaskPort}`;
  cluster = await startComposeCluster('pushflask', [], { CORS_ORIGINS: flaskUrl });
  flask = spawn(PYTHON, ['app.py'], {
    cwd: EXAMPLE,
    env: {
      ...process.env,
      PORT: String(flaskPort),
      PUSH_URL: cluster.url,
      PUSH_API_KEY: COMPOSE_DEFAULT_API_KEY,
    },
  });
  flask.stdout?.on('data', (chunk: Buffer) => {
    flaskLog += chunk.toString();
  });
  flask.stderr?.on('data', (chunk: Buffer) => {
    flaskLog += chunk.toString();
  });
  await waitFor(async () => (await fetch(flaskUrl).catch(() => undefined))?.status === 200, {
    timeoutMs: 30_000,
    intervalMs: 200,
    what: `the Flask example on ${flaskUrl}`,
  }).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\n${flaskLog}`);
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  flask?.kill();
  await cluster?.project.down();
});

/** Opens the example's page and waits until it is connected; resolves with its node. */
async function openPage(): Promise<{ page: Page; node: string; errors: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(flaskUrl);
  const status = page.getByTestId('status');
  await page.locator('[data-testid="status"][data-state="connected"]').waitFor({ timeout: 15_000 });
  await page.locator('body[data-subscribed="true"]').waitFor({ timeout: 15_000 });
  return { page, node: (await status.getAttribute('data-node')) ?? '', errors };
}

describe('the Flask example', () => {
  it('has a publisher that keeps the retry rules (its own tests, python3 -m unittest)', async () => {
    const { stderr } = await promisify(execFile)(
      PYTHON,
      ['-m', 'unittest', 'test_push_publisher'],
      {
        cwd: EXAMPLE,
      },
    );
    expect(stderr).toMatch(/Ran \d+ tests[\s\S]*OK/);
  });

  it('shows a message submitted on one page on pages connected to other nodes', async () => {
    const pages = [await openPage()];
    for (let tries = 0; tries < 10 && new Set(pages.map((p) => p.node)).size < 2; tries++) {
      pages.push(await openPage());
    }
    const nodes = new Set(pages.map((p) => p.node));
    expect(nodes.size, `pages on ${[...nodes].join(', ')}`).toBeGreaterThanOrEqual(2);
    const [sender] = pages as [(typeof pages)[number]];
    const text = `hello from Flask ${Date.now().toString(36)}`;
    await sender.page.getByLabel('Message').fill(text);
    await sender.page.getByRole('button', { name: 'Send' }).click();
    for (const { page, node } of pages) {
      await page
        .getByTestId('messages')
        .locator('li', { hasText: text })
        .waitFor({ timeout: 10_000 })
        .catch((error: unknown) => {
          throw new Error(`not on the page connected to ${node}: ${(error as Error).message}`);
        });
    }
    for (const { errors } of pages) expect(errors).toEqual([]);
  });

  it('says so when the message is refused, and publishes nothing', async () => {
    const answer = await fetch(`${flaskUrl}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: '' }),
    });
    expect(answer.status).toBe(400);
  });
});
