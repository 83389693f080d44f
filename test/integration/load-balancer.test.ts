import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);

/**
 * The repository's nginx config and its start script (nginx/push-nginx.sh) in front of stand-in
 * nodes on Unix sockets in the shared directory: how sessions are routed and nodes found, and
 * what nginx answers when a node fails a request, told apart by whether the request reached it.
 */
let sockets: string;
let nginx: StartedTestContainer;
let url: string;
let standIn: Server | undefined;
let nginxLog = '';
const others: Server[] = [];

/** A node that answers health checks and reads a publish, then dies before answering it. */
function failingNode(): Server {
  return createServer((req, res) => {
    if (req.method === 'POST') {
      req.resume();
      req.on('end', () => req.socket.destroy());
      return;
    }
    if (req.url?.startsWith('/socket.io/')) {
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { 'x-node-id': 'node1', 'content-type': 'application/json' }).end('{}');
  });
}

/** A node that answers everything with its id and the request's URL. */
function answeringNode(id: string): Server {
  return createServer((req, res) => {
    res.writeHead(200, { 'x-node-id': id, 'content-type': 'text/plain' }).end(`${id} ${req.url}`);
  });
}

/** Listens on `<sockets>/<id>.sock`, where a node with that NODE_ID listens (docker-compose.yml). */
async function listenAs(id: string, server: Server): Promise<Server> {
  const path = join(sockets, `${id}.sock`);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  await chmod(path, 0o666);
  return server;
}

const startStandIn = () => listenAs('node1', failingNode());

const stopStandIn = () =>
  new Promise<void>((resolve) => {
    if (standIn === undefined) return resolve();
    standIn.closeAllConnections();
    standIn.close(() => resolve());
    standIn = undefined;
  });

const publish = () =>
  fetch(`${url}/api/publish`, {
    method: 'POST',
    headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
    body: JSON.stringify({ room: 'r', data: 1, idempotencyKey: 'k-1' }),
  });

beforeAll(async () => {
  sockets = await mkdtemp(join(tmpdir(), 'push-lb-'));
  await chmod(sockets, 0o777);
  standIn = await startStandIn();
  nginx = await new GenericContainer('nginx:stable-bookworm')
    .withCopyFilesToContainer([
      { source: join(REPO_ROOT, 'nginx', 'nginx.conf'), target: '/etc/nginx/nginx.conf' },
      {
        source: join(REPO_ROOT, 'nginx', 'push-cluster.conf'),
        target: '/etc/nginx/conf.d/default.conf',
      },
      { source: join(REPO_ROOT, 'nginx', 'push-nginx.sh'), target: '/etc/nginx/push-nginx.sh' },
    ])
    .withBindMounts([{ source: sockets, target: '/run/push', mode: 'rw' }])
    .withEnvironment({ PUSH_NODE_SOCKETS: '/run/push' })
    .withCommand(['sh', '/etc/nginx/push-nginx.sh', 'run'])
    .withLogConsumer((stream) => {
      stream.on('data', (chunk: Buffer | string) => {
        nginxLog += String(chunk);
      });
    })
    .withExposedPorts(80)
    .withWaitStrategy(Wait.forHttp('/healthz', 80).forStatusCode(200))
    .start();
  url = `http://${nginx.getHost()}:${nginx.getMappedPort(80)}`;
});

afterAll(async () => {
  await stopStandIn();
  for (const server of others) server.close();
  await nginx?.stop();
  if (sockets !== undefined) await rm(sockets, { recursive: true, force: true });
});

describe('nginx, when a node fails a request', () => {
  it('answers a publish that reached a node which died 502 outcome_unknown', async () => {
    const response = await publish();
    expect(response.status).toBe(502);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toEqual({
      error: { code: 'outcome_unknown', message: expect.stringMatching(/idempotencyKey/) },
    });
  });

  it('answers a Socket.IO request that failed so 503 unavailable: the client reconnects', async () => {
    const response = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: 'unavailable' } });
  });

  it('answers a publish that reached no node 503 unavailable', async () => {
    await stopStandIn();
    const response = await publish();
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: 'unavailable' } });
  });
});

describe('nginx, finding nodes and routing sessions', () => {
  /** The nodes nginx balanced `count` health checks to. */
  const balancedTo = async (count = 12) => {
    const seen = new Set<string | null>();
    for (let i = 0; i < count; i++)
      seen.add((await fetch(`${url}/healthz`)).headers.get('x-node-id'));
    return seen;
  };
  /** Looks of the watcher (PUSH_WATCH_SECONDS, 2 s) in which a change would have been applied. */
  const LOOKS_MS = 4 * 2_000;

  it('balances over a node that appears, within seconds, and routes its sessions to it', async () => {
    others.push(await listenAs('a1b2c3d4e5f6', answeringNode('a1b2c3d4e5f6')));
    // The start script sees the new socket and reloads nginx (PUSH_WATCH_SECONDS, 2 s).
    await waitFor(
      async () => (await fetch(`${url}/healthz`)).headers.get('x-node-id') === 'a1b2c3d4e5f6',
      { timeoutMs: 20_000, intervalMs: 100, what: 'the new node balanced to' },
    );
    const session = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=a1b2c3d4e5f6.Xa9`);
    expect(await session.text()).toBe(
      'a1b2c3d4e5f6 /socket.io/?EIO=4&transport=polling&sid=a1b2c3d4e5f6.Xa9',
    );
  });

  it('answers a session of a node that is not there 503 unavailable; a malformed id is balanced', async () => {
    const gone = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=gone.Xa9`);
    expect(gone.status).toBe(503);
    expect(await gone.json()).toMatchObject({ error: { code: 'unavailable' } });
    // Not a session id of any node (a real node answers it "Session ID unknown"): never a path,
    // but balanced, here to the one node left.
    for (const sid of ['..%2Fetc.Xa9', 'a1b2c3d4e5f6%2F..%2Fnode1.Xa9', 'x.y.z%00.Xa9']) {
      const response = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
      expect(response.headers.get('x-node-id'), sid).toBe('a1b2c3d4e5f6');
    }
  });

  it('drops a node that is gone from the balancing', async () => {
    const node = others.pop();
    await new Promise<void>((resolve) => node?.close(() => resolve()));
    await waitFor(async () => !(await balancedTo(6)).has('a1b2c3d4e5f6'), {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'the node gone from the balancing',
    });
  });

  it('balances new sessions over ready nodes only: not one starting or draining, until it is ready', async () => {
    others.push(await listenAs('c3', answeringNode('c3')));
    await waitFor(async () => (await balancedTo()).has('c3'), {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'the ready node balanced to',
    });
    let ready = false;
    const starting = createServer((req, res) => {
      const status = req.url === '/readyz' && !ready ? 503 : 200;
      res.writeHead(status, { 'x-node-id': 'd4' }).end();
    });
    others.push(await listenAs('d4', starting));
    await new Promise((resolve) => setTimeout(resolve, LOOKS_MS));
    expect(await balancedTo()).toEqual(new Set(['c3']));
    // Its sessions still reach it (a draining node keeps serving the ones it has).
    const session = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=d4.Xa9`);
    expect(session.headers.get('x-node-id')).toBe('d4');
    ready = true;
    await waitFor(async () => (await balancedTo()).has('d4'), {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'the node balanced to once ready',
    });
  });

  it('keeps serving when nginx refuses a new node list, and applies it once nginx accepts', async () => {
    const broken = '/etc/nginx/conf.d/zz-broken.conf';
    await nginx.exec(['sh', '-c', `echo 'not nginx;' > ${broken}`]);
    others.push(await listenAs('e5', answeringNode('e5')));
    await new Promise((resolve) => setTimeout(resolve, LOOKS_MS));
    const during = await balancedTo();
    expect(during.has('e5')).toBe(false);
    expect(during.has('c3')).toBe(true);
    // Emptied rather than removed: an `nginx -t` between its listing of conf.d and its opening of
    // the file would otherwise refuse the list for another reason (the file gone), rightly said.
    await nginx.exec(['truncate', '-s', '0', broken]);
    await waitFor(async () => (await balancedTo()).has('e5'), {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'the refused list applied once nginx accepts it',
    });
    // Said once, not at every look.
    const refusals = nginxLog.match(/nginx refuses the new node list.*unknown directive "not"/g);
    expect(refusals, nginxLog.match(/push-nginx: .*/g)?.join('\n')).toHaveLength(1);
    await nginx.exec(['rm', broken]);
  });

  it("keeps the connections to a listed node open between its sessions' requests (a node id with a dot too)", async () => {
    let connections = 0;
    const counted = answeringNode('f.6');
    counted.on('connection', () => connections++);
    others.push(await listenAs('f.6', counted));
    await waitFor(async () => (await balancedTo()).has('f.6'), {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'the node f.6 balanced to',
    });
    const before = connections;
    const POLLS = 8;
    for (let i = 0; i < POLLS; i++) {
      const poll = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=f.6.Xa${i}`);
      expect(await poll.text()).toBe(`f.6 /socket.io/?EIO=4&transport=polling&sid=f.6.Xa${i}`);
    }
    // One per nginx worker at most, not one per request: a long-polling client's every poll
    // would otherwise open a connection to its node (and close it).
    expect(connections - before).toBeLessThanOrEqual(2);
  });

  it('refuses to start nginx when its descriptor limit cannot hold PUSH_MAX_CLIENTS', async () => {
    const started = await run('docker', [
      'run',
      '--rm',
      '-e',
      'PUSH_NODE_SOCKETS=/run/push',
      '-e',
      'PUSH_MAX_CLIENTS=10000000',
      '-v',
      `${join(REPO_ROOT, 'nginx', 'push-nginx.sh')}:/etc/nginx/push-nginx.sh:ro`,
      'nginx:stable-bookworm',
      'sh',
      '/etc/nginx/push-nginx.sh',
      'run',
    ]).then(
      () => undefined,
      (error: unknown) => error as { code: number; stderr: string },
    );
    expect(started?.code).toBe(1);
    expect(started?.stderr).toMatch(
      /^push-nginx: PUSH_MAX_CLIENTS=10000000 over \d+ worker\(s\) needs \d+ file descriptors per nginx worker, but this container allows \d+ \(ulimit -Hn\)/,
    );
  });
});
