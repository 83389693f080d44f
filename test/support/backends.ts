import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import type { BackendOptions, ClusterBackend } from '../../src/cluster/cluster-backend.js';
import { createClusterBackend } from '../../src/cluster/create-cluster-backend.js';
import { createLogger } from '../../src/observability/logger.js';
import { RedisClusterContainer } from './redis-cluster-container.js';

/**
 * One way to build the cluster's backend, for the contract suites (test/contract): every part of
 * every backend must behave the same. Adding a backend is adding a factory here.
 */
export interface BackendFactory {
  readonly name: string;
  /** True when two backends made by this factory share their state (two nodes of one cluster). */
  readonly shared: boolean;
  /** Starts what the backend needs (a Redis container); called once per suite. */
  start(): Promise<void>;
  /** A backend, as one node would build it; closed by {@link stop} if the test did not. */
  make(options?: Partial<BackendOptions>): ClusterBackend;
  /** Closes every backend made and stops what {@link start} started. */
  stop(): Promise<void>;
}

const DEFAULTS: BackendOptions = {
  nodeId: 'contract',
  history: { size: 100, ttlSeconds: 3600, metaTtlSeconds: 86_400 },
  maxConnectionsPerUser: 0,
};

const silent = createLogger('contract', 'silent');

/** Builds backends through the one factory the nodes use, from a Redis URL (or none). */
function factory(
  name: string,
  shared: boolean,
  redis?: () => Promise<RedisServer>,
): BackendFactory {
  const made: ClusterBackend[] = [];
  let server: RedisServer | undefined;
  return {
    name,
    shared,
    async start() {
      server = await redis?.();
    },
    make(options = {}) {
      const backend = createClusterBackend(
        {
          ...DEFAULTS,
          ...options,
          redisUrl: server?.url,
          redisClusterNodes: server?.clusterNodes,
        },
        silent,
      );
      made.push(backend);
      return backend;
    },
    async stop() {
      await Promise.all(made.splice(0).map((backend) => backend.close()));
      await server?.stop();
    },
  };
}

interface RedisServer {
  url?: string;
  clusterNodes?: string[];
  stop(): Promise<unknown>;
}

async function redisContainer(): Promise<RedisServer> {
  const container: StartedTestContainer = await new GenericContainer('redis:7-bookworm')
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
    .start();
  return {
    url: `redis://127.0.0.1:${container.getMappedPort(6379)}`,
    stop: () => container.stop(),
  };
}

async function redisCluster(): Promise<RedisServer> {
  const cluster = await new RedisClusterContainer().withMasters(3).withReplicasPerMaster(1).start();
  return { clusterNodes: cluster.seeds.split(','), stop: () => cluster.stop() };
}

/** Every backend the cluster can run on. */
export const BACKENDS: readonly BackendFactory[] = [
  factory('memory', false),
  factory('redis', true, redisContainer),
  factory('redis-cluster', true, redisCluster),
];
