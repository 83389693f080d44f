import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../shared/free-port.js';
import { httpOk, LocalProcess, stopAll, tcpOpen } from './local-process.js';
import { adaptNginxMain, adaptNginxSite, renderNginxGenerated } from './nginx-config.js';
import { BENCH_JWT_SECRET, startPushNode } from './push-node.js';
import type { Target } from './target.js';

const NODE_IDS = ['node1', 'node2', 'node3'];
/**
 * Clients the benchmark's nginx is sized for (PUSH_MAX_CLIENTS), as deployed: the largest
 * workload (the 10,000-client row) and its connect probe beyond it.
 */
const NGINX_MAX_CLIENTS = 10_000;

/** Finds a program in PATH or the sbin directories (nginx lives in /usr/sbin). */
function program(name: string): string {
  return (
    ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']
      .map((dir) => join(dir, name))
      .find((path) => existsSync(path)) ?? name
  );
}

/**
 * The product as deployed, on loopback: Redis, three nodes from the built code, and nginx with
 * the project's config. Needs Debian's `redis-server` and `nginx` (`bench/setup.sh`).
 */
export function startClusterTarget(): Promise<Target> {
  return startCluster('cluster', {});
}

/**
 * The same cluster with room history off (`HISTORY_SIZE=0`): offsets and order still go through
 * Redis's script, without the stream. Set against `cluster`, it shows what keeping history costs.
 */
export function startClusterWithoutHistoryTarget(): Promise<Target> {
  return startCluster('cluster-no-history', { HISTORY_SIZE: '0' });
}

async function startCluster(name: string, nodeEnv: Record<string, string>): Promise<Target> {
  const started: LocalProcess[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'push-bench-'));
  try {
    const redisPort = await freePort();
    const redis = LocalProcess.start('redis', program('redis-server'), [
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ]);
    started.push(redis);
    await redis.waitUntil('Redis accepting connections', () => tcpOpen(redisPort));

    // As deployed: each node on <socket dir>/<node id>.sock, where nginx finds it.
    const socketDir = join(dir, 'sockets');
    await mkdir(socketDir);
    const addresses = new Map<string, { port: number; socket: string }>();
    for (const id of NODE_IDS) {
      addresses.set(id, { port: await freePort(), socket: join(socketDir, `${id}.sock`) });
    }
    const startNode = (id: string) => {
      const address = addresses.get(id);
      if (address === undefined) throw new Error(`no node ${id} in ${name}`);
      return startPushNode(id, address.port, {
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        LISTEN_SOCKET: address.socket,
        ...nodeEnv,
      });
    };
    // Every node that started is stopped with the rest, even when a sibling failed.
    const results = await Promise.allSettled(NODE_IDS.map(startNode));
    const nodes = results.flatMap((result) =>
      result.status === 'fulfilled' ? [result.value] : [],
    );
    started.push(...nodes.map((node) => node.process));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;

    const port = await freePort();
    const generated = join(dir, 'generated');
    await renderNginxGenerated(generated, socketDir, NGINX_MAX_CLIENTS);
    const site = join(dir, 'push-cluster.conf');
    await writeFile(site, await adaptNginxSite(port, generated));
    await writeFile(join(dir, 'nginx.conf'), await adaptNginxMain(dir, site, generated));
    // Workers of an nginx started as root run as nobody and write temp files here.
    await chmod(dir, 0o777);
    const nginx = LocalProcess.start('nginx', program('nginx'), [
      '-p',
      dir,
      '-c',
      join(dir, 'nginx.conf'),
    ]);
    started.push(nginx);
    await nginx.waitUntil('nginx answering /healthz', () =>
      httpOk(`http://127.0.0.1:${port}/healthz`),
    );

    const servers = nodes.map((node) => node.server);
    const running = new Set(NODE_IDS);
    return {
      name,
      description:
        name === 'cluster'
          ? '3 nodes + Redis + nginx (the project config), all on loopback'
          : '3 nodes + Redis + nginx, room history off (HISTORY_SIZE=0)',
      protocol: 'socket.io',
      url: `http://127.0.0.1:${port}`,
      tokenSecret: BENCH_JWT_SECRET,
      servers,
      infrastructure: [
        { name: 'redis', pid: redis.pid },
        { name: 'nginx', pid: nginx.pid },
      ],
      kill: async (server) => {
        const node = nodes.find((n) => n.server.name === server);
        if (node === undefined) throw new Error(`no node ${server} in ${name}`);
        await node.process.kill();
        running.delete(server);
      },
      start: async (server) => {
        if (running.has(server)) return;
        const node = await startNode(server);
        started.push(node.process);
        const index = nodes.findIndex((n) => n.server.name === server);
        nodes[index] = node;
        servers[index] = node.server;
        running.add(server);
      },
      stop: async () => {
        await stopAll(started);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stopAll(started);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
