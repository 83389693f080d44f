import { createServer } from 'node:net';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { waitFor } from './wait.js';

/**
 * How soon a cluster node that stops answering is failed over (`cluster-node-timeout`): short,
 * so that a failover test takes seconds, yet above the pauses of a slow 2-core machine under
 * load (a node wrongly failed over would make the tests flaky, not faster).
 */
const NODE_TIMEOUT_MS = 3000;

/** A node of a started Redis Cluster. */
export interface RedisClusterNode {
  container: StartedTestContainer;
  /** Its port on 127.0.0.1 (its cluster bus port is this + 10000). */
  port: number;
}

/** A Redis Cluster on 127.0.0.1, in containers on the host network. */
export interface StartedRedisCluster {
  /** The seed list for `REDIS_CLUSTER_NODES`: every node, `127.0.0.1:<port>`. */
  readonly seeds: string;
  readonly nodes: readonly RedisClusterNode[];
  /** Runs `redis-cli` against `node` (the first by default) and returns its output. */
  redisCli(args: string[], node?: RedisClusterNode): Promise<string>;
  /** The node that is master of `slot` now. */
  masterOf(slot: number): Promise<RedisClusterNode>;
  /** Kills a node's container (SIGKILL): what a crashed host does. */
  kill(node: RedisClusterNode): Promise<void>;
  /** Waits until the cluster says it is ok (every slot served) as seen from a live node. */
  waitUntilOk(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Whether `port` can be bound on 127.0.0.1 now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port below the kernel's ephemeral range whose cluster bus port (+10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 9_000);
    if (taken.has(port)) continue;
    if ((await canBind(port)) && (await canBind(port + 10_000))) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free port pair for a Redis Cluster node');
}

/**
 * Builds a Redis Cluster of `redis:7-bookworm` containers, testcontainers-style:
 * `await new RedisClusterContainer().withMasters(3).withReplicasPerMaster(1).start()`. The nodes
 * run on the host network, each on its own loopback port, so that the addresses the cluster
 * announces are the ones the tests and in-process nodes reach (127.0.0.1 only).
 */
export class RedisClusterContainer {
  private masters = 3;
  private replicas = 1;

  withMasters(count: number): this {
    this.masters = count;
    return this;
  }

  withReplicasPerMaster(count: number): this {
    this.replicas = count;
    return this;
  }

  async start(): Promise<StartedRedisCluster> {
    const taken = new Set<number>();
    const total = this.masters * (1 + this.replicas);
    const ports: number[] = [];
    for (let i = 0; i < total; i++) ports.push(await clusterPort(taken));
    const nodes: RedisClusterNode[] = [];
    const stopAll = () => Promise.all(nodes.map((node) => node.container.stop({ timeout: 1 })));
    try {
      const started = await Promise.all(
        ports.map((port) =>
          new GenericContainer('redis:7-bookworm')
            .withNetworkMode('host')
            .withCommand([
              'redis-server',
              '--port',
              String(port),
              '--bind',
              '127.0.0.1',
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              `nodes-${port}.conf`,
              '--cluster-node-timeout',
              String(NODE_TIMEOUT_MS),
              '--save',
              '',
              '--appendonly',
              'no',
              // Replicas sync at once (the default waits 5 s for more replicas to share a
              // transfer): a replica that never synced cannot take over.
              '--repl-diskless-sync-delay',
              '0',
            ])
            .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
            .start()
            .then((container) => ({ container, port })),
        ),
      );
      nodes.push(...started);
      const first = nodes[0] as RedisClusterNode;
      const cli = async (args: string[], node: RedisClusterNode = first) => {
        const { exitCode, output } = await node.container.exec([
          'redis-cli',
          '-p',
          String(node.port),
          ...args,
        ]);
        if (exitCode !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${output}`);
        return output;
      };
      await cli([
        '--cluster',
        'create',
        ...ports.map((port) => `127.0.0.1:${port}`),
        '--cluster-replicas',
        String(this.replicas),
        '--cluster-yes',
      ]);
      const alive = new Set(nodes);
      const cluster: StartedRedisCluster = {
        seeds: ports.map((port) => `127.0.0.1:${port}`).join(','),
        nodes,
        redisCli: cli,
        async masterOf(slot) {
          const live = [...alive][0] as RedisClusterNode;
          const shards = await cli(['CLUSTER', 'SLOTS'], live);
          // redis-cli prints the nested reply line by line: start, end, then host/port/id triples.
          const lines = shards.split('\n').map((line) => line.trim());
          for (let i = 0; i + 3 < lines.length; i++) {
            const [start, end, , port] = lines.slice(i, i + 4).map(Number);
            if (
              Number.isInteger(start) &&
              Number.isInteger(end) &&
              start !== undefined &&
              end !== undefined &&
              start <= slot &&
              slot <= end &&
              end < 16_384
            ) {
              const owner = nodes.find((node) => node.port === port);
              if (owner !== undefined) return owner;
            }
          }
          throw new Error(`no master for slot ${slot} in:\n${shards}`);
        },
        async kill(node) {
          alive.delete(node);
          await node.container.stop({ timeout: 0 });
        },
        async waitUntilOk(timeoutMs = 60_000) {
          await waitFor(
            async () => {
              const live = [...alive];
              const states = await Promise.all(
                live.map((node) => cli(['CLUSTER', 'INFO'], node).catch(() => '')),
              );
              return states.every((info) => info.includes('cluster_state:ok'));
            },
            { timeoutMs, intervalMs: 250, what: 'cluster_state:ok on every node' },
          );
        },
        stop: async () => {
          await stopAll();
        },
      };
      await cluster.waitUntilOk();
      // Every replica has its master's data: it can be failed over to.
      await waitFor(
        async () => {
          const infos = await Promise.all(nodes.map((node) => cli(['INFO', 'replication'], node)));
          return infos.every(
            (info) => info.includes('role:master') || info.includes('master_link_status:up'),
          );
        },
        { timeoutMs: 60_000, intervalMs: 250, what: 'every replica in sync' },
      );
      return cluster;
    } catch (error) {
      await stopAll();
      throw error;
    }
  }
}
