/** The wire protocol a target speaks to the load generator. */
export type TargetProtocol = 'socket.io' | 'ws';

/** A server process the benchmark watches (memory, CPU). */
export interface ServerProcess {
  /** e.g. `node1`, `ws-raw`. */
  name: string;
  pid: number;
  /**
   * A loopback inspector port, when the benchmark started the process with one: used to force a
   * full garbage collection before memory is read.
   */
  inspectorPort?: number;
  /** Its Prometheus endpoint (`GET /metrics`, with {@link BENCH_ADMIN_KEY}), for a push node. */
  metricsUrl?: string;
}

/** The admin key of the push nodes the benchmark starts: it reads their `/metrics` with it. */
export const BENCH_ADMIN_KEY = 'benchmark-admin-key';

/** Something to measure, started (or found) by the benchmark. */
export interface Target {
  /** `cluster`, `single`, `ws-raw`, or `url` for a cluster started elsewhere. */
  name: string;
  /** One line saying what it is, for the report. */
  description: string;
  protocol: TargetProtocol;
  /** Where clients connect (nginx for the cluster). */
  url: string;
  /**
   * The HS256 secret its nodes verify tokens with (`AUTH_JWT_SECRET`): simulated clients carry
   * tokens signed with it. `undefined` for a target without auth (ws-raw).
   */
  tokenSecret: string | undefined;
  /** The processes that serve clients; empty when the target runs elsewhere (`--url`). */
  servers: ServerProcess[];
  /** Processes around the servers (nginx, Redis): their CPU is reported apart. */
  infrastructure: ServerProcess[];
  /** Stops whatever the benchmark started for this target. */
  stop(): Promise<void>;
  /** Kills one of its servers (SIGKILL), by name; absent where the benchmark cannot. */
  kill?(server: string): Promise<void>;
  /**
   * Starts a server it killed again, as it was (same addresses), and waits until it is ready; does
   * nothing to one that runs. Absent where the benchmark cannot.
   */
  start?(server: string): Promise<void>;
}
