import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';

/**
 * The repository's nginx config in front of a stand-in node on node1's Unix socket (node2 and
 * node3 are absent): what nginx answers when a node fails a request, told apart by whether the
 * request reached it.
 */
let sockets: string;
let nginx: StartedTestContainer;
let url: string;
let standIn: Server | undefined;

/** A node that answers health checks and reads a publish, then dies before answering it. */
async function startStandIn(): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'POST') {
      req.resume();
      req.on('end', () => req.socket.destroy());
      return;
    }
    if (req.url?.startsWith('/socket.io/')) {
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  });
  const path = join(sockets, 'node1.sock');
  await new Promise<void>((resolve) => server.listen(path, resolve));
  await chmod(path, 0o666);
  return server;
}

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
    ])
    .withBindMounts([{ source: sockets, target: '/run/push', mode: 'rw' }])
    .withExposedPorts(80)
    .withWaitStrategy(Wait.forHttp('/healthz', 80).forStatusCode(200))
    .start();
  url = `http://${nginx.getHost()}:${nginx.getMappedPort(80)}`;
});

afterAll(async () => {
  await stopStandIn();
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
