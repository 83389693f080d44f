import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  GenericContainer,
  Network,
  type StartedNetwork,
  type StartedTestContainer,
  Wait,
} from 'testcontainers';
import { freePort } from '../../bench/shared/free-port.js';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';
import type { TokenGrant } from '../../src/auth/token-signer.js';
import { type JwksIssuer, startJwksIssuer } from './jwks-issuer.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

/** The node ids of the cluster's three nodes. */
export const NODE_IDS = ['node1', 'node2', 'node3'] as const;
/** One of {@link NODE_IDS}. */
export type NodeId = (typeof NODE_IDS)[number];

const IMAGE = 'push-cluster:test';
const NODE_PORT = 3000;
/** Where nodes put their LISTEN_SOCKET and nginx finds it (nginx/push-cluster.conf). */
const SOCKET_DIR = '/run/push';
/** Where the nginx container runs nginx/push-nginx.sh from (as docker-compose.yml mounts it). */
const NGINX_SCRIPT = '/etc/nginx/push-nginx.sh';
let imageBuilt: Promise<string> | undefined;

/** Builds the repository's Dockerfile once per test process; resolves with the image name. */
export function buildPushImage(): Promise<string> {
  imageBuilt ??= GenericContainer.fromDockerfile(REPO_ROOT)
    .build(IMAGE, { deleteOnExit: false })
    .then(() => IMAGE);
  return imageBuilt;
}

/** How a stopped node ended. */
export interface NodeStop {
  exitCode: number;
  /** Wall time from the stop request (SIGTERM) until the container had exited. */
  elapsedMs: number;
}

/** A running cluster: Redis, three nodes built from the repo's Dockerfile, and nginx. */
export interface StartedPushCluster {
  /** nginx, as a browser or backend would reach it. */
  url: string;
  apiKey: string;
  /** A node directly, bypassing nginx. */
  nodeUrl(id: NodeId): string;
  /**
   * A token the nodes accept: RS256, signed with the private key of the key set the cluster
   * fetches from a JWKS container on its network. By default a fresh user who may subscribe to
   * any private room and publish anywhere.
   */
  token(grant?: Partial<TokenGrant>): Promise<string>;
  /** Stops a node the way an orchestrator does (SIGTERM, SIGKILL after `graceMs`). */
  stopNode(id: NodeId, graceMs?: number): Promise<NodeStop>;
  /** Kills a node at once (SIGKILL); its container stays, for {@link startNode}. */
  killNode(id: NodeId): Promise<void>;
  /** Starts a stopped or killed node again and waits until it is ready. */
  startNode(id: NodeId): Promise<void>;
  /** Restarts a node as a deploy does (SIGTERM, then a new process) and waits until it is ready. */
  restartNode(id: NodeId): Promise<void>;
  /** Restarts Redis (SIGTERM: it writes its append-only file, then starts from it). */
  restartRedis(): Promise<void>;
  /** Cuts a node off the network (its clients, on the Unix socket, stay connected to it). */
  partitionNode(id: NodeId): Promise<void>;
  /** Puts a partitioned node back on the network. */
  healNode(id: NodeId): Promise<void>;
  /** Runs `redis-cli` in the Redis container; resolves with its output. */
  redisCli(...args: string[]): Promise<string>;
  /** Stops and removes everything this cluster started. */
  stop(): Promise<void>;
}

/**
 * Starts the cluster as deployed, in containers on one network, with the repository's own
 * Dockerfile and nginx config. As in docker-compose.yml, nginx reaches the nodes over their Unix
 * sockets in a directory every container mounts (here a host directory). Nodes verify tokens
 * against a JWKS served by another container on the network (`AUTH_JWKS_URL`), guests allowed.
 *
 * @example
 * const cluster = await new PushClusterContainer().withApiKey('k'.repeat(16)).start();
 */
export class PushClusterContainer {
  private apiKey = 'integration-test-publish-key';
  private env: Record<string, string> = {};

  /** The shared `PUBLISH_API_KEYS` of all nodes (one key). */
  withApiKey(apiKey: string): this {
    this.apiKey = apiKey;
    return this;
  }

  /** Extra environment for every node (e.g. `MAX_PAYLOAD_BYTES`, `LOG_LEVEL`). */
  withNodeEnvironment(env: Record<string, string>): this {
    this.env = { ...this.env, ...env };
    return this;
  }

  async start(): Promise<StartedPushCluster> {
    const image = await buildPushImage();
    const network = await new Network().start();
    const sockets = await mkdtemp(join(tmpdir(), 'push-sockets-'));
    // The nodes run as uid 1000 and nginx's workers as nobody.
    await chmod(sockets, 0o777);
    const socketMount = { source: sockets, target: SOCKET_DIR, mode: 'rw' as const };
    const containers: StartedTestContainer[] = [];
    const stopAll = async () => {
      await stopEverything(containers, network);
      await rm(sockets, { recursive: true, force: true });
    };
    try {
      const jwks: JwksIssuer = await startJwksIssuer(network);
      containers.push(jwks.container);
      const redis = await new GenericContainer('redis:7-bookworm')
        .withNetwork(network)
        .withNetworkAliases('redis')
        // As in docker-compose.yml: histories survive a Redis restart.
        .withCommand([
          'redis-server',
          '--appendonly',
          'yes',
          '--appendfsync',
          'everysec',
          '--save',
          '',
        ])
        .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
        .start();
      containers.push(redis);
      const nodes = new Map<NodeId, StartedTestContainer>();
      await Promise.all(
        NODE_IDS.map(async (id) => {
          const node = await new GenericContainer(image)
            .withNetwork(network)
            .withNetworkAliases(id)
            .withEnvironment({
              LOG_LEVEL: 'warn',
              AUTH_JWKS_URL: jwks.url,
              ALLOW_GUESTS: 'true',
              GUEST_ROOMS: '*',
              ...this.env,
              NODE_ID: id,
              LISTEN_SOCKET: `${SOCKET_DIR}/${id}.sock`,
              REDIS_URL: 'redis://redis:6379',
              PUBLISH_API_KEYS: this.apiKey,
            })
            .withBindMounts([socketMount])
            .withExposedPorts(NODE_PORT)
            .withWaitStrategy(Wait.forHttp('/readyz', NODE_PORT).forStatusCode(200))
            .start();
          containers.push(node);
          nodes.set(id, node);
        }),
      );
      // nginx on the host's network, on a free loopback port: clients reach it as remote clients
      // reach a deployed nginx, through the kernel, not through Docker's userland proxy (which
      // relays loopback connections to published ports, frame by frame: a third of a core at
      // 300 clients × 100 msgs/s on a slow machine, taken from the cluster under test). It
      // needs no container network: it reaches the nodes over their Unix sockets.
      const nginxPort = await freePort();
      const site = (await readFile(join(REPO_ROOT, 'nginx', 'push-cluster.conf'), 'utf8')).replace(
        /listen\s+80\b/,
        `listen 127.0.0.1:${nginxPort}`,
      );
      if (!site.includes(`127.0.0.1:${nginxPort}`)) throw new Error('nginx config: no listen 80');
      const nginx = await new GenericContainer('nginx:stable-bookworm')
        .withNetworkMode('host')
        .withCopyFilesToContainer([
          { source: join(REPO_ROOT, 'nginx', 'nginx.conf'), target: '/etc/nginx/nginx.conf' },
          { source: join(REPO_ROOT, 'nginx', 'push-nginx.sh'), target: NGINX_SCRIPT },
        ])
        .withCopyContentToContainer([{ content: site, target: '/etc/nginx/conf.d/default.conf' }])
        .withBindMounts([socketMount])
        // As in docker-compose.yml: the script finds the nodes' sockets and runs nginx.
        .withEnvironment({ PUSH_NODE_SOCKETS: SOCKET_DIR })
        .withCommand(['sh', NGINX_SCRIPT, 'run'])
        .start();
      containers.push(nginx);
      const nginxUrl = `http://127.0.0.1:${nginxPort}`;
      await waitFor(
        async () => (await fetch(`${nginxUrl}/healthz`).catch(() => undefined))?.status === 200,
        { timeoutMs: 30_000, intervalMs: 200, what: `nginx on ${nginxUrl}` },
      );

      const urlOf = (container: StartedTestContainer, port: number) =>
        `http://${container.getHost()}:${container.getMappedPort(port)}`;
      const nodeOf = (id: NodeId) => {
        const node = nodes.get(id);
        if (node === undefined) throw new Error(`no node ${id}`);
        return node;
      };
      return {
        url: nginxUrl,
        apiKey: this.apiKey,
        nodeUrl: (id) => urlOf(nodeOf(id), NODE_PORT),
        token: (grant) => jwks.sign(grant),
        async stopNode(id, graceMs = 15_000) {
          const node = nodeOf(id);
          const started = Date.now();
          await node.stop({ timeout: graceMs, remove: false });
          const elapsedMs = Date.now() - started;
          const { stdout } = await run('docker', [
            'inspect',
            '--format',
            '{{.State.ExitCode}}',
            node.getId(),
          ]);
          await run('docker', ['rm', '-f', node.getId()]);
          containers.splice(containers.indexOf(node), 1);
          return { exitCode: Number(stdout.trim()), elapsedMs };
        },
        async killNode(id) {
          await run('docker', ['kill', '--signal', 'KILL', nodeOf(id).getId()]);
        },
        async startNode(id) {
          await run('docker', ['start', nodeOf(id).getId()]);
          await nodeReady(join(sockets, `${id}.sock`));
        },
        async restartNode(id) {
          await run('docker', ['restart', '--time', '10', nodeOf(id).getId()]);
          await nodeReady(join(sockets, `${id}.sock`));
        },
        async restartRedis() {
          await run('docker', ['restart', '--time', '10', redis.getId()]);
        },
        async partitionNode(id) {
          await run('docker', ['network', 'disconnect', network.getName(), nodeOf(id).getId()]);
        },
        async healNode(id) {
          const container = nodeOf(id).getId();
          await run('docker', ['network', 'connect', '--alias', id, network.getName(), container]);
        },
        async redisCli(...args) {
          const { stdout } = await run('docker', ['exec', redis.getId(), 'redis-cli', ...args]);
          return stdout.trim();
        },
        stop: stopAll,
      };
    } catch (error) {
      await stopAll();
      throw error;
    }
  }
}

/**
 * Waits until the node answers `/readyz` with 200 on its Unix socket, asked from this process
 * through the directory the containers share with it: no process started in the container (a
 * `node -e` probe costs about half a second of CPU on a slow machine, 4 times a second here).
 */
async function nodeReady(socketPath: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ready = await new Promise<boolean>((resolve) => {
      const request = httpGet({ socketPath, path: '/readyz', timeout: 2000 }, (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      });
      request.on('error', () => resolve(false));
      request.on('timeout', () => request.destroy());
    });
    if (ready) return;
    if (Date.now() > deadline)
      throw new Error(`node at ${socketPath} not ready within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function stopEverything(
  containers: StartedTestContainer[],
  network: StartedNetwork,
): Promise<void> {
  await Promise.allSettled(containers.splice(0).map((container) => container.stop()));
  await network.stop().catch(() => {});
}
