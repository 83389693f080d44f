import type { Server } from 'socket.io';
import type { HistoryConfig } from '../config/config.js';
import type { NodeReports, ReportSource } from './node-reports.js';
import type { Presence } from './presence.js';
import type { RateStore } from './rate-store.js';
import type { RoomLog } from './room-log.js';
import type { UserConnectionLimiter } from './user-connection-limiter.js';

/** Which backend shares the cluster's state: none (one embedded node), Redis, or a Redis Cluster. */
export type BackendKind = 'memory' | 'redis' | 'redis-cluster';

/** What a backend is built from (the node's configuration). */
export interface BackendOptions {
  nodeId: string;
  history: HistoryConfig;
  /** 0: no limit. */
  maxConnectionsPerUser: number;
}

/** Whether the node can reach the rest of the cluster right now: what `/readyz` and publishes ask. */
export interface ClusterReadiness {
  /** Which backend, for logs and `/readyz`. */
  readonly kind: BackendKind;
  /** True while the node's messages and reads reach the cluster. */
  isReady(): boolean;
  /** A short state description for `/readyz`, e.g. `ready` or `pub reconnecting, sub ready`. */
  status(): string;
}

/**
 * Everything a node shares with the other nodes, from one backend chosen once
 * ({@link createClusterBackend}): the room log, presence, per-user connection counts, the API-key
 * rate counters, the nodes' reports and the Socket.IO adapter. Nothing above `src/cluster/` knows
 * which backend it is, or sees its connections.
 */
export interface ClusterBackend extends ClusterReadiness {
  /** This process in the cluster: `<NODE_ID>:<random>`, new at every start. */
  readonly instance: string;
  readonly roomLog: RoomLog;
  readonly presence: Presence;
  readonly userConnections: UserConnectionLimiter;
  readonly rateStore: RateStore;
  /** Starts filing this node's report (made by `source`) where every node can read it. */
  nodeReports(source: ReportSource): NodeReports;
  /** Installs the backend's Socket.IO adapter; called once, before listening. */
  attach(io: Server): void;
  /**
   * Stops every part (reports withdrawn, liveness dropped) and releases the connections; the
   * Socket.IO server must already be closed. Idempotent.
   */
  close(): Promise<void>;
}
