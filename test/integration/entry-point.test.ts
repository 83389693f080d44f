import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/shared/free-port.js';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';
import { postPublish } from '../support/http-publish.js';
import { PROBE_DONE, PROBE_READY, PROBE_START } from '../support/pretenuring-probe.js';
import { connectClient } from '../support/test-client.js';
import { waitFor } from '../support/wait.js';

const MAIN = join(REPO_ROOT, 'src', 'main.ts');
const PROBE = join(REPO_ROOT, 'test', 'support', 'pretenuring-probe.ts');
/** V8's trace of allocation-site pretenuring feedback, and the probe that provokes some. */
const PRETENURING_TRACE = [
  '--trace-pretenuring',
  '--trace-pretenuring-statistics',
  '--import',
  PROBE,
];
/** A line V8 prints each time it weighs an allocation site's survival rate. */
const SITE_FEEDBACK = /pretenuring: AllocationSite\(/;
/** What a process printed while the probe allocated. */
function duringProbe(stdout: string): string {
  const start = stdout.indexOf(PROBE_START);
  const end = stdout.indexOf(PROBE_DONE);
  if (start < 0 || end < start) throw new Error(`the probe did not run:\n${stdout.slice(-2000)}`);
  return stdout.slice(start, end);
}
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/**
 * Starts `script` (the entry point by default) in Node.js with tsx's loader, flags first. The
 * process is node itself (no tsx wrapper), so signals reach it directly. With `descriptorLimit`,
 * under that open-file limit (soft and hard: Node.js cannot raise it).
 */
function startMain(
  env: Record<string, string>,
  flags: string[] = [],
  script: string[] = [MAIN],
  descriptorLimit?: number,
) {
  const node = [process.execPath, '--import', 'tsx', ...flags, ...script];
  const [command, args] =
    descriptorLimit === undefined
      ? [process.execPath, node.slice(1)]
      : ['sh', ['-c', `ulimit -n ${descriptorLimit} && exec "$@"`, 'sh', ...node]];
  const child = spawn(command as string, args as string[], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

/** The JSON log lines a process printed so far, or only those with message `msg`. */
function logLines(main: ReturnType<typeof startMain>, msg?: string): Record<string, unknown>[] {
  const lines = main
    .stdout()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return msg === undefined ? lines : lines.filter((line) => line.msg === msg);
}

describe('the node entry point', () => {
  it('exits 1 with one clear line per configuration problem', async () => {
    const main = startMain({ PORT: 'eighty', MAX_PAYLOAD_BYTES: '-5', REDIS_URL: 'localhost' });
    const [code] = await main.exited;
    expect(code).toBe(1);
    const lines = main.stderr().trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^config error: PORT: .*\(got "eighty"\)$/),
      expect.stringMatching(/^config error: REDIS_URL: /),
      expect.stringMatching(/^config error: MAX_PAYLOAD_BYTES: .*\(got "-5"\)$/),
    ]);
  });

  it('checks MAX_CONNECTIONS against its file-descriptor limit before it listens', async () => {
    // Under a limit of 600 descriptors (soft and hard, so that Node cannot raise it).
    const lowLimit = (env: Record<string, string>) => startMain(env, [], [MAIN], 600);
    const explicit = lowLimit({ PORT: '0', MAX_CONNECTIONS: '1000' });
    const [code] = await explicit.exited;
    expect(code).toBe(1);
    expect(explicit.stderr()).toMatch(
      /^config error: MAX_CONNECTIONS=1000 needs 1256 file descriptors .* may open 600: .*set MAX_CONNECTIONS to at most 344\n$/,
    );

    const port = await freePort();
    const defaulted = lowLimit({ PORT: String(port), NODE_ID: 'low-limit' });
    await waitFor(
      async () =>
        (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok === true,
      {
        what: 'node ready',
      },
    );
    expect(
      logLines(defaulted).filter(
        (line) => line.level === 'warn' && /^MAX_CONNECTIONS lowered/.test(String(line.msg)),
      ),
    ).toEqual([
      expect.objectContaining({
        msg: expect.stringMatching(
          /from its default 10000 to 344: this process may open only 600 files/,
        ),
      }),
    ]);
  });

  it('starts with no Redis and no token key (development mode, said loudly), prints a generated API key once, and exits 0 on SIGTERM with clients connected', async () => {
    const port = await freePort();
    const main = startMain({ PORT: String(port), NODE_ID: 'entry' });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/readyz`)).ok, { what: 'node ready' });

    const logs = logLines(main);
    const keyLines = logs.filter((line) => typeof line.publishApiKey === 'string');
    expect(keyLines).toHaveLength(1);
    expect(logs.some((line) => /in-memory adapter/.test(String(line.msg)))).toBe(true);
    // Nothing configured: guests only, and it says so loudly.
    expect(logs.filter((line) => /^INSECURE DEVELOPMENT MODE/.test(String(line.msg)))).toEqual([
      expect.objectContaining({ level: 'warn', guestPublish: ['lobby', 'demo:*'] }),
    ]);
    const published = await postPublish(url, String(keyLines[0]?.publishApiKey), {
      data: 'with the generated key',
    });
    expect(published.status).toBe(202);
    const requestId = published.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    // One line per HTTP request, with its id; none for the readiness probes polled above.
    await waitFor(() => main.stdout().includes(requestId as string), { what: 'the request line' });
    const requestLines = logLines(main, 'http request');
    expect(requestLines).toEqual([
      expect.objectContaining({
        level: 'info',
        node: 'entry',
        req: requestId,
        method: 'POST',
        path: '/api/publish',
        status: 202,
        ms: expect.any(Number),
      }),
    ]);

    // One line per refused connection, with its code, socket id and handshake request id.
    await expect(
      connectClient(url, {
        token: 'a.b.c',
        transports: ['websocket'],
        extraHeaders: { 'x-request-id': 'handshake-1' },
      }),
    ).rejects.toThrow();
    await waitFor(() => main.stdout().includes('connection refused'), { what: 'the refusal line' });
    const refusals = logLines(main, 'connection refused');
    expect(refusals).toEqual([
      expect.objectContaining({
        level: 'info',
        node: 'entry',
        code: 'token_invalid',
        sid: expect.any(String),
        req: 'handshake-1',
      }),
    ]);

    const polling = await connectClient(url, { transports: ['polling'] });
    const websocket = await connectClient(url, { transports: ['websocket'] });
    const disconnects = Promise.all(
      [polling, websocket].map(
        (client) =>
          new Promise<string>((resolve) => client.socket.once('disconnect', (r) => resolve(r))),
      ),
    );
    const started = Date.now();
    main.child.kill('SIGTERM');
    const [code, signal] = await main.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(10_000);
    // Clients see a transport loss (so they reconnect elsewhere), not a server-side kick.
    const reasons = await disconnects;
    for (const reason of reasons) expect(reason).toMatch(/transport (close|error)/);
  });

  it('drains on SIGTERM: unready at once, still serving, then moves its clients over the spread', async () => {
    const port = await freePort();
    const main = startMain({
      PORT: String(port),
      NODE_ID: 'drainer',
      PUBLISH_API_KEYS: 'drain-test-publish-key',
      DRAIN_DELAY_MS: '1500',
      DRAIN_SPREAD_MS: '2000',
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/readyz`)).ok, { what: 'node ready' });
    const clients = await Promise.all(
      Array.from({ length: 12 }, () => connectClient(url, { transports: ['websocket'] })),
    );
    for (const client of clients) await client.socket.emitWithAck('subscribe', 'lobby');
    const lostAt: number[] = [];
    for (const client of clients) client.socket.once('disconnect', () => lostAt.push(Date.now()));

    const signalled = Date.now();
    main.child.kill('SIGTERM');
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 503, {
      timeoutMs: 1000,
      intervalMs: 20,
      what: '/readyz 503 at once',
    });
    const handshake = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
    expect(handshake.status).toBe(503);
    expect(await handshake.json()).toMatchObject({ error: { code: 'unavailable' } });
    // Still serving its clients during the delay.
    const published = await postPublish(url, 'drain-test-publish-key', {
      room: 'lobby',
      data: 'still here',
    });
    expect(published.status).toBe(202);
    await waitFor(() => clients.every((c) => c.received.length === 1), {
      what: 'delivery while draining',
    });
    expect(lostAt).toEqual([]);

    const [code] = await main.exited;
    expect(code).toBe(0);
    expect(lostAt).toHaveLength(clients.length);
    const first = Math.min(...lostAt) - signalled;
    const last = Math.max(...lostAt) - signalled;
    console.log(`drain: clients moved between ${first} and ${last} ms after SIGTERM`);
    expect(first).toBeGreaterThanOrEqual(1400);
    expect(last - first).toBeGreaterThan(500);
    expect(last).toBeLessThan(1500 + 2000 + 500);
  });

  it('turns V8 allocation-site pretenuring off before serving anything', async () => {
    /** Runs the probe in a started process, then stops it cleanly (which flushes V8's output). */
    async function probe(process: ReturnType<typeof startMain>): Promise<string> {
      await waitFor(() => process.stdout().includes(PROBE_READY), { what: 'probe loaded' });
      process.child.kill('SIGUSR2');
      await waitFor(() => process.stdout().includes(PROBE_DONE), { what: 'probe done' });
      process.child.kill('SIGTERM');
      const [code] = await process.exited;
      expect(code).toBe(0);
      return duringProbe(process.stdout());
    }
    // Without the entry point, the probe's survivors make V8 weigh their allocation site
    // (so this test can fail).
    const idle = 'setInterval(() => {}, 1000); process.on("SIGTERM", () => process.exit(0))';
    expect(await probe(startMain({}, PRETENURING_TRACE, ['-e', idle]))).toMatch(SITE_FEEDBACK);

    const port = await freePort();
    const main = startMain({ PORT: String(port), NODE_ID: 'entry' }, PRETENURING_TRACE);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, {
      what: 'node ready',
    });
    expect(await probe(main)).not.toMatch(SITE_FEEDBACK);
  });
});
