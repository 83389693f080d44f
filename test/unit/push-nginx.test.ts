import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/shared/free-port.js';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';
import { adaptNginxMain, adaptNginxSite } from '../../bench/targets/nginx-config.js';

const run = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'nginx', 'push-nginx.sh');

/**
 * nginx/push-nginx.sh, the nginx container's command: the limits it derives from one setting,
 * the node list it renders, and the start it refuses with a message that says what to change.
 */
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'push-nginx-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `push-nginx.sh render` with `env` (and a lower descriptor limit, if given). */
function render(env: Record<string, string>, hardLimit?: number) {
  const command =
    hardLimit === undefined
      ? `exec sh '${SCRIPT}' render`
      : `ulimit -n ${hardLimit} && exec sh '${SCRIPT}' render`;
  return run('sh', ['-c', command], {
    env: { PATH: process.env.PATH, PUSH_NGINX_GENERATED: dir, ...env },
  });
}

/** The number after `directive` in a rendered file. */
async function directive(file: string, name: string): Promise<number> {
  const text = await readFile(join(dir, file), 'utf8');
  const value = new RegExp(`^${name} (\\d+);$`, 'm').exec(text)?.[1];
  if (value === undefined) throw new Error(`${file} has no ${name}`);
  return Number(value);
}

/** Resolves to stderr of a run that must fail with exit code 1. */
async function failure(run: Promise<unknown>): Promise<string> {
  const error = await run.then(
    () => undefined,
    (thrown: unknown) => thrown as { code: number; stderr: string },
  );
  if (error === undefined) throw new Error('push-nginx.sh succeeded');
  expect(error.code).toBe(1);
  return error.stderr;
}

describe('push-nginx.sh limits', () => {
  it.each([
    // Within this machine's descriptor limit (20,000 here), as any run must be.
    [10_000, 2],
    [4_000, 1],
    [20_000, 4],
  ])(
    'gives each worker room for its share of %i clients over %i worker(s)',
    async (clients, workers) => {
      await render({
        PUSH_MAX_CLIENTS: String(clients),
        PUSH_NGINX_WORKERS: String(workers),
        PUSH_NODE_SOCKETS: dir,
      });
      expect(await directive('main.conf', 'worker_processes')).toBe(workers);
      const connections = await directive('events.conf', 'worker_connections');
      // Two connections per client (its own and its node's), spread evenly, with room to spare.
      expect(connections).toBeGreaterThanOrEqual(((2 * clients) / workers) * 1.2);
      expect(connections).toBeLessThanOrEqual(((2 * clients) / workers) * 1.5 + 1024);
      expect(await directive('main.conf', 'worker_rlimit_nofile')).toBeGreaterThan(connections);
    },
  );

  it('bounds how long workers replaced by a reload keep connections, when asked', async () => {
    await render({ PUSH_NODE_SOCKETS: dir, PUSH_MAX_CLIENTS: '100', PUSH_NGINX_WORKERS: '1' });
    expect(await readFile(join(dir, 'main.conf'), 'utf8')).not.toContain('worker_shutdown_timeout');
    await render({
      PUSH_NODE_SOCKETS: dir,
      PUSH_MAX_CLIENTS: '100',
      PUSH_NGINX_WORKERS: '1',
      PUSH_WORKER_SHUTDOWN_SECONDS: '600',
    });
    expect(await readFile(join(dir, 'main.conf'), 'utf8')).toMatch(
      /^worker_shutdown_timeout 600s;$/m,
    );
  });

  it('refuses to start when the descriptor limit cannot hold the clients, saying what to change', async () => {
    const stderr = await failure(
      render({ PUSH_MAX_CLIENTS: '10000', PUSH_NGINX_WORKERS: '1', PUSH_NODE_SOCKETS: dir }, 4096),
    );
    expect(stderr).toMatch(/PUSH_MAX_CLIENTS=10000 over 1 worker\(s\) needs \d+ file descriptors/);
    expect(stderr).toMatch(/allows 4096 \(ulimit -Hn\)/);
    expect(stderr).toMatch(/--ulimit nofile=\d+/);
    // Within the limit, the same setting starts.
    await render(
      { PUSH_MAX_CLIENTS: '1000', PUSH_NGINX_WORKERS: '1', PUSH_NODE_SOCKETS: dir },
      4096,
    );
  });

  it.each([
    [{ PUSH_MAX_CLIENTS: 'lots', PUSH_NODE_SOCKETS: '/run/push' }, /PUSH_MAX_CLIENTS must be/],
    [{ PUSH_MAX_CLIENTS: '0', PUSH_NODE_SOCKETS: '/run/push' }, /PUSH_MAX_CLIENTS must be/],
    // The shell would read it as octal (8 clients), or fail on 08.
    [{ PUSH_MAX_CLIENTS: '010', PUSH_NODE_SOCKETS: '/run/push' }, /PUSH_MAX_CLIENTS must be/],
    [
      { PUSH_WORKER_SHUTDOWN_SECONDS: 'soon', PUSH_NODE_SOCKETS: '/run/push' },
      /PUSH_WORKER_SHUTDOWN_SECONDS must be/,
    ],
    [{ PUSH_NODE_SOCKETS: '/run/my nodes' }, /letters, digits and _ \. \/ - only/],
    [{ PUSH_NGINX_WORKERS: '-1', PUSH_NODE_SOCKETS: '/run/push' }, /PUSH_NGINX_WORKERS must be/],
    [{}, /set PUSH_NODE_SOCKETS .* or PUSH_NODE_DNS/],
    [{ PUSH_NODE_SOCKETS: '/run/push', PUSH_NODE_DNS: 'nodes' }, /not both/],
    [{ PUSH_NODE_SOCKETS: 'run/push' }, /must be an absolute directory/],
    [{ PUSH_NODE_DNS: 'nodes' }, /PUSH_NODE_DNS needs PUSH_SESSION_DOMAIN/],
  ])('refuses bad settings with a message: %o', async (env, message) => {
    expect(await failure(render(env))).toMatch(message);
  });
});

describe('push-nginx.sh node list', () => {
  /** Limits any machine holds (the node list is under test here, not the limits). */
  const SMALL = { PUSH_MAX_CLIENTS: '100', PUSH_NGINX_WORKERS: '1' };

  /** nginx's own check of the rendered files in the project's config (as the benchmark runs it). */
  async function nginxAccepts(): Promise<void> {
    const site = join(dir, 'site.conf');
    await writeFile(site, await adaptNginxSite(await freePort(), dir));
    const main = join(dir, 'nginx.conf');
    await writeFile(main, await adaptNginxMain(dir, site, dir));
    await run('nginx', ['-t', '-q', '-p', dir, '-c', main]);
  }

  it('with no node yet: an upstream nginx accepts, which answers unavailable', async () => {
    await render({ ...SMALL, PUSH_NODE_SOCKETS: join(dir, 'none') });
    const nodes = await readFile(join(dir, 'nodes.conf'), 'utf8');
    expect(nodes).toMatch(/upstream push_nodes \{[^}]*server 127\.0\.0\.1:9 down;/);
    await nginxAccepts();
  });

  describe('from the sockets directory', () => {
    const servers: Server[] = [];

    afterEach(async () => {
      for (const server of servers.splice(0)) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });

    /** A stand-in node on `<dir>/<name>`, answering /readyz with `status`. */
    async function node(name: string, status: number): Promise<string> {
      const path = join(dir, name);
      const server = createServer((_req, res) => res.writeHead(status).end());
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(path, resolve));
      return path;
    }

    /** A socket file whose process was killed: it exists, and nothing answers on it. */
    async function deadSocket(name: string): Promise<string> {
      const path = join(dir, name);
      const listenThenDie = `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
      await run(process.execPath, ['-e', listenThenDie]).catch(() => undefined);
      return path;
    }

    /** The upstream servers of the rendered push_nodes. */
    async function listed(): Promise<string[]> {
      const nodes = await readFile(join(dir, 'nodes.conf'), 'utf8');
      return [...nodes.matchAll(/^ {4}server (\S+) max_fails/gm)].map((match) => match[1] ?? '');
    }

    it('lists the ready nodes: not a dead socket file, a starting or draining node, or a stray name', async () => {
      const ready = await node('n1.sock', 200);
      await node('n2.sock', 503);
      await deadSocket('n3.sock');
      await node('not a node.sock', 200);
      await render({ ...SMALL, PUSH_NODE_SOCKETS: dir });
      expect(await listed()).toEqual([`unix:${ready}`]);
      await nginxAccepts();
    });

    it('with no node ready (e.g. Redis down), every node that answers; failing that, every socket', async () => {
      const notReady = await node('n2.sock', 503);
      const dead = await deadSocket('n3.sock');
      await render({ ...SMALL, PUSH_NODE_SOCKETS: dir });
      expect(await listed()).toEqual([`unix:${notReady}`]);

      await new Promise((resolve) => servers.pop()?.close(resolve));
      // Closing a server removes its socket file: only the dead one is left.
      await render({ ...SMALL, PUSH_NODE_SOCKETS: dir });
      expect(await listed()).toEqual([`unix:${dead}`]);
    });
  });

  it('found by DNS: every address of the name, sessions routed by <node id>.<domain>', async () => {
    await render({
      ...SMALL,
      PUSH_NODE_DNS: 'localhost',
      PUSH_NODE_PORT: '3001',
      PUSH_SESSION_DOMAIN: 'push-node.push.svc.cluster.local',
    });
    const nodes = await readFile(join(dir, 'nodes.conf'), 'utf8');
    expect(nodes).toContain('server 127.0.0.1:3001 max_fails=1 fail_timeout=5s;');
    expect(nodes).toContain('"$push_node.push-node.push.svc.cluster.local:3001"');
    // nginx resolves a session's node with the resolver the container is given.
    const nameserver = /^nameserver\s+(\S+)/m.exec(await readFile('/etc/resolv.conf', 'utf8'))?.[1];
    expect(nodes).toMatch(
      new RegExp(`^resolver .*${nameserver?.replaceAll('.', '\\.')}.* valid=5s;$`, 'm'),
    );
    // A node id in DNS mode is one label: a dot cannot reach another domain.
    expect(nodes).toContain('(?<push_node>[A-Za-z0-9_-]{1,63})');
    await nginxAccepts();
  });

  it('found by DNS: a fully qualified session domain with its trailing dot routes the same', async () => {
    await render({
      ...SMALL,
      PUSH_NODE_DNS: 'localhost.',
      PUSH_SESSION_DOMAIN: 'push-node.push.svc.cluster.local.',
    });
    const nodes = await readFile(join(dir, 'nodes.conf'), 'utf8');
    expect(nodes).toContain('server 127.0.0.1:3000 max_fails=1 fail_timeout=5s;');
    expect(nodes).toContain('"$push_node.push-node.push.svc.cluster.local:3000"');
  });
});
