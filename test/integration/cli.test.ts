import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/shared/free-port.js';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';
import { ExitCode, runCli } from '../../src/cli/run-cli.js';
import { PushClient } from '../../src/client/index.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import { TEST_JWT_SECRET, testToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * `push-cluster`, the command line, against a node: publish (argument and stdin), history,
 * presence, the overview table, token; exit codes by what happened; `--help` on each command.
 */
const API_KEY = 'cli-test-publish-key';
const ADMIN_KEY = 'cli-test-admin-key';
let node: InProcessNode;
let client: PushClient;

beforeAll(async () => {
  node = await startInProcessNode({
    PUBLISH_API_KEYS: API_KEY,
    ADMIN_API_KEY: ADMIN_KEY,
    PRESENCE_ROOMS: 'cli-presence*',
  });
  client = new PushClient(node.url, { token: await testToken({ sub: 'cli-bob' }) });
  await client.subscribe('cli-room');
});

afterAll(async () => {
  client?.close();
  await node?.server.close();
});

/** Runs the CLI in this process with `env`, and `stdin` as its standard input. */
async function cli(args: string[], env: NodeJS.ProcessEnv = {}, stdin = '') {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    env: { PUSH_URL: node.url, PUSH_API_KEY: API_KEY, ...env },
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    stdin: async () => stdin,
  });
  return { code, out, err };
}

describe('push-cluster', () => {
  it('publishes JSON from an argument, once under a repeated --id', async () => {
    const got: unknown[] = [];
    client.on('cli-event', (envelope) => got.push(envelope.data));
    const args = ['publish', '--room', 'cli-room', '--event', 'cli-event', '--id', 'cli-1'];
    const first = await cli([...args, '{"n":1}']);
    expect(first).toMatchObject({ code: ExitCode.ok, err: '' });
    expect(JSON.parse(first.out)).toMatchObject({ offset: 1, idempotencyKey: 'cli-1' });
    const again = await cli([...args, '{"n":1}']);
    expect(JSON.parse(again.out)).toMatchObject({ offset: 1, duplicate: true });
    await waitFor(() => got.length === 1, { what: 'the message delivered' });
    expect(got).toEqual([{ n: 1 }]);
  });

  it('reads the data from stdin, and prints history and presence', async () => {
    const piped = await cli(['publish', '--room', 'cli-room'], {}, '[1, 2, 3]\n');
    expect(piped.code).toBe(ExitCode.ok);
    const history = await cli(['history', 'cli-room', '--since', '1']);
    expect(history.code).toBe(ExitCode.ok);
    const page = JSON.parse(history.out) as { messages: { envelope: { data: unknown } }[] };
    expect(page.messages.map((m) => m.envelope.data)).toEqual([[1, 2, 3]]);
    await client.subscribe('cli-presence-1');
    await waitFor(async () => (await cli(['presence', 'cli-presence-1'])).out === 'cli-bob\n', {
      what: 'bob listed',
    });
  });

  it('shows the cluster as a table with the admin key, and refuses without one', async () => {
    const table = await cli(['cluster'], { PUSH_ADMIN_KEY: ADMIN_KEY });
    expect(table.code).toBe(ExitCode.ok);
    const [header, row] = table.out.split('\n');
    expect(header).toMatch(/^node\s+state\s+connections/);
    expect(row).toMatch(new RegExp(`^${node.id}\\s+ready\\s+1\\s`));
    expect(await cli(['cluster'])).toMatchObject({ code: ExitCode.config });
    const wrong = await cli(['cluster', '--admin-key', 'nope']);
    expect(wrong.code).toBe(ExitCode.refused);
  });

  it('exits by what happened: usage 2, refused 3, not published 4', async () => {
    expect((await cli(['publish', '{"n":1}'])).code).toBe(ExitCode.usage); // no target
    expect((await cli(['publish', '--room', 'r', 'not json'])).code).toBe(ExitCode.usage);
    expect((await cli(['publish', '--room', 'r', '--bogus', '1'])).code).toBe(ExitCode.usage);
    expect((await cli(['nonsense'])).code).toBe(ExitCode.usage);
    const refused = await cli(['publish', '--room', 'bad room', '1']);
    expect(refused.code).toBe(ExitCode.refused);
    expect(refused.err).toContain('invalid_room');
    const wrongKey = await cli(['publish', '--room', 'r', '1'], {
      PUSH_API_KEY: 'not-a-key-at-all',
    });
    expect(wrongKey.code).toBe(ExitCode.refused);
    const noKey = await cli(['publish', '--room', 'r', '1'], { PUSH_API_KEY: '' });
    expect(noKey.code).toBe(ExitCode.config);
    // Nothing listens there: refused connections until --retry-for is over.
    const away = await cli(['publish', '--room', 'r', '--retry-for', '0.5', '1'], {
      PUSH_URL: `http://127.0.0.1:${await freePort()}`,
    });
    expect(away.code).toBe(ExitCode.notPublished);
    for (const command of ['publish', 'history', 'presence', 'cluster', 'token']) {
      const help = await cli([command, '--help']);
      expect(help.code, command).toBe(ExitCode.ok);
      expect(help.out, command).toContain(command === 'token' ? '--sub' : '--url');
    }
  });

  it('runs as a program: a token it signs is accepted, and a publish read from a pipe arrives', async () => {
    const run = (args: string[], input = '') =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn('npx', ['tsx', 'src/cli/push-cluster.ts', ...args], {
          cwd: REPO_ROOT,
          env: {
            ...process.env,
            PUSH_URL: node.url,
            PUSH_API_KEY: API_KEY,
            AUTH_JWT_SECRET: TEST_JWT_SECRET,
          },
        });
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
        });
        child.on('close', (code) => resolve({ code, out }));
        child.stdin.end(input);
      });
    const token = await run(['token', '--sub', 'cli-carol']);
    expect(token.code).toBe(0);
    const carol = new PushClient(node.url, { token: token.out.trim() });
    try {
      const got: unknown[] = [];
      carol.on('message', (envelope) => got.push(envelope.data));
      await carol.ready();
      expect(carol.status.user).toBe('cli-carol');
      const published = await run(['publish', '--user', 'cli-carol'], '"hello carol"');
      expect(published.code).toBe(0);
      await waitFor(() => got.length === 1, { what: 'carol got it' });
      expect(got).toEqual(['hello carol']);
    } finally {
      carol.close();
    }
  }, 60_000);
});
