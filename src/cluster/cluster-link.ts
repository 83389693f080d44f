import type { Redis } from 'ioredis';
import type { Server } from 'socket.io';

/**
 * How a node shares broadcasts with the other nodes: the Redis adapter in a cluster, or nothing
 * (Socket.IO's in-memory adapter) for a single embedded node.
 */
export interface ClusterLink {
  /** `redis` or `memory`, for logs and `/readyz`. */
  readonly kind: 'redis' | 'memory';
  /**
   * The Redis connection for the cluster's shared state (counters, rate limits), when there is
   * one; the adapter publishes on it too.
   */
  readonly redis: Redis | undefined;
  /** Installs the link's adapter on the Socket.IO server; called once, before listening. */
  attach(io: Server): void;
  /** True while broadcasts reach the other nodes. */
  isReady(): boolean;
  /** A short state description for `/readyz`, e.g. `ready` or `reconnecting`. */
  status(): string;
  /** Releases connections; the adapter must already be closed. */
  close(): Promise<void>;
}
