import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';

/** The system's Chromium (Debian's by default; `CHROMIUM_PATH` to use another); never a download. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Screenshots land here (git-ignored), one per test. */
export const SCREENSHOT_DIR = join(REPO_ROOT, 'test-results', 'e2e');

/** Starts the system Chromium headless. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
}

/** Everything a page reported that a user would call a problem. */
export interface PageProblems {
  /** `console.error` lines, including failed resource loads. */
  consoleErrors: string[];
  /** Uncaught exceptions in the page. */
  pageErrors: string[];
  /** HTTP responses with status ≥ 400 (`GET url → status`). */
  failedResponses: string[];
}

/** Saves a full-page screenshot of `page` under `test-results/e2e/<name>.png`. */
async function saveScreenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Collects what `page` reports as problems from now on. */
function watchProblems(page: Page): PageProblems {
  const problems: PageProblems = { consoleErrors: [], pageErrors: [], failedResponses: [] };
  page.on('console', (message) => {
    if (message.type() === 'error') problems.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => problems.pageErrors.push(error.message));
  page.on('response', (response) => {
    if (response.status() >= 400) {
      problems.failedResponses.push(
        `${response.request().method()} ${response.url()} → ${response.status()}`,
      );
    }
  });
  return problems;
}

/** The demo page in its own browser context (its own cookies and storage: another user). */
export class DemoPage {
  readonly problems: PageProblems;

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
  ) {
    this.problems = watchProblems(page);
  }

  /** Opens the demo at `url` in a fresh context and waits until it is connected to a node. */
  static async open(
    browser: Browser,
    url: string,
    options: { viewport?: { width: number; height: number } } = {},
  ): Promise<DemoPage> {
    const context = await browser.newContext({
      viewport: options.viewport ?? { width: 1100, height: 720 },
    });
    const demo = new DemoPage(context, await context.newPage());
    await demo.page.goto(url);
    await demo.waitForState('connected');
    return demo;
  }

  /** The node the page says it is connected to. */
  async node(): Promise<string> {
    return (await this.page.getByTestId('node').textContent()) ?? '';
  }

  /** The transport the page shows. */
  async transport(): Promise<string> {
    return (await this.page.getByTestId('transport').textContent()) ?? '';
  }

  /** Waits until the status line shows `state`. */
  async waitForState(state: string, timeout = 15_000): Promise<void> {
    await this.page.getByTestId('state').filter({ hasText: state }).waitFor({ timeout });
  }

  /** Joins `room` with the form, as a user would (type, Enter), and waits for it to be listed. */
  async join(room: string): Promise<void> {
    const input = this.page.getByLabel('Room to join');
    await input.fill(room);
    await input.press('Enter');
    await this.page
      .getByTestId('rooms')
      .locator(`li[data-room="${room}"]`)
      .waitFor({ timeout: 5000 });
  }

  /** Sends `text` to `room` (or to everyone with `null`) with the form. */
  async send(room: string | null, text: string): Promise<void> {
    await this.page.getByLabel('Send to').selectOption(room ?? '');
    const input = this.page.getByLabel('Message');
    await input.fill(text);
    await input.press('Enter');
  }

  /** Waits until a message containing `text` is in the feed. */
  async waitForMessage(text: string, timeout = 5000): Promise<void> {
    await this.messages(text).first().waitFor({ timeout });
  }

  /** Feed messages containing `text`. */
  messages(text: string) {
    return this.page.getByTestId('message').filter({ hasText: text });
  }

  /** Saves a full-page screenshot under `test-results/e2e/`. */
  screenshot(name: string): Promise<string> {
    return saveScreenshot(this.page, name);
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

/**
 * Opens demo pages until one is served by a node not in `avoid` (nginx balances handshakes, so
 * this takes a few tries at most); pages on other nodes are closed.
 */
export async function openDemoAvoiding(
  browser: Browser,
  url: string,
  avoid: readonly string[],
  maxAttempts = 20,
): Promise<DemoPage> {
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const demo = await DemoPage.open(browser, url);
    if (!avoid.includes(await demo.node())) return demo;
    await demo.close();
  }
  throw new Error(`no page landed outside ${avoid.join(', ')} in ${maxAttempts} attempts`);
}

/** The admin page (`/admin`) in its own browser context. */
export class AdminPage {
  readonly problems: PageProblems;

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
  ) {
    this.problems = watchProblems(page);
  }

  /** Opens the admin page at `url` (e.g. `http://…/admin`), signed out. */
  static async open(browser: Browser, url: string): Promise<AdminPage> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const admin = new AdminPage(context, await context.newPage());
    await admin.page.goto(url);
    return admin;
  }

  /** Types `credential` into the form and submits it. */
  async signIn(credential: string): Promise<void> {
    const input = this.page.getByLabel('Admin key or admin token');
    await input.fill(credential);
    await input.press('Enter');
  }

  /** The text the status line shows (`live`, `partial`, `refused`, …). */
  async state(): Promise<string> {
    return (await this.page.getByTestId('view-state').textContent()) ?? '';
  }

  /** The error line's text. */
  async error(): Promise<string> {
    return (await this.page.getByTestId('view-error').textContent()) ?? '';
  }

  /** The nodes listed, with the state each is shown in: `[["node1", "ready"], …]`. */
  async nodes(): Promise<string[][]> {
    return this.page
      .getByTestId('nodes')
      .locator('tr')
      .evaluateAll((rows) =>
        rows.map((row) => [
          row.getAttribute('data-node') ?? '',
          row.children[1]?.textContent ?? '',
        ]),
      );
  }

  /** The member count the rooms table shows for `room`, or `undefined` if not listed. */
  async members(room: string): Promise<number | undefined> {
    const cell = this.page.getByTestId('rooms').locator(`tr[data-room="${room}"] td[data-members]`);
    if ((await cell.count()) === 0) return undefined;
    return Number(await cell.textContent());
  }

  /** Saves a full-page screenshot under `test-results/e2e/`. */
  screenshot(name: string): Promise<string> {
    return saveScreenshot(this.page, name);
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}
