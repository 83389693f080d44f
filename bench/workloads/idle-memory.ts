import { round } from '../load/stats.js';
import { collectGarbage } from '../shared/inspector.js';
import { rssBytes } from '../targets/process-stats.js';
import { clientSpecs, type WorkloadContext } from './workload-context.js';

/** Measured connections are added in this many equal batches; memory is read after each. */
const BATCHES = 4;
/**
 * How long connections sit idle before memory is read (a full garbage collection is forced right
 * before each reading, so this only lets the last handshakes finish).
 */
const SETTLE_MS = 500;
/** Idle connections (warm-up and measured) are opened at most this many at a time. */
const CONNECT_CHUNK = 500;

/** Idle memory: N idle WebSocket connections, resident memory added per connection. */
export interface IdleMemoryResult {
  connections: number;
  /**
   * Connections opened first and kept open, not measured: `--idle-warmup` per server process. A
   * process's first connections also pay one-off growth (V8's young generation grows up to
   * 16 MiB per semi-space as allocation speeds up, JIT code, pooled parsers), several times
   * what a connection costs afterwards (docs/performance.md).
   */
  warmupConnections: number;
  /** Resident memory that the warm-up added, MiB (the one-off growth plus the warm-up's own). */
  warmupMiB: number | null;
  /** Sum over the server processes, MiB, after the warm-up and after the last batch. */
  rssBeforeMiB: number | null;
  rssAfterMiB: number | null;
  /**
   * Marginal resident memory per connection, KB (1000 bytes): the least-squares slope of RSS
   * against connections over the batches, after the warm-up. `null` when server processes are
   * not visible (`--url`).
   */
  perConnectionKB: number | null;
  /** (RSS after − RSS after the warm-up) / N, KB, for comparison. */
  averagePerConnectionKB: number | null;
  perServer: Array<{ name: string; beforeMiB: number; afterMiB: number }>;
}

/** Each server's RSS, read right after a full garbage collection in it (when it has an inspector). */
export async function rssOf(context: WorkloadContext): Promise<number[]> {
  return Promise.all(
    context.target.servers.map(async (server) => {
      if (server.inspectorPort !== undefined) await collectGarbage(server.inspectorPort);
      return (await rssBytes(server.pid)) ?? 0;
    }),
  );
}

const mib = (bytes: number) => round(bytes / 2 ** 20, 1);
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/** Slope of the least-squares line through (x, y). */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  const meanX = sum(points.map(([x]) => x)) / n;
  const meanY = sum(points.map(([, y]) => y)) / n;
  const covariance = sum(points.map(([x, y]) => (x - meanX) * (y - meanY)));
  const variance = sum(points.map(([x]) => (x - meanX) ** 2));
  return variance === 0 ? 0 : covariance / variance;
}

/** Opens `count` idle connections in chunks the generator handles comfortably; throws on any error. */
async function connectIdle(context: WorkloadContext, count: number): Promise<void> {
  for (let opened = 0; opened < count; ) {
    const size = Math.min(CONNECT_CHUNK, count - opened);
    const result = await context.generator.connect(await clientSpecs(context, size));
    if (result.errors.length > 0) {
      throw new Error(
        `${result.errors.length} idle clients could not connect: ${result.errors[0]}`,
      );
    }
    opened += size;
  }
}

/** Runs the idle-memory workload. */
export async function idleMemory(context: WorkloadContext): Promise<IdleMemoryResult> {
  const { target, options, generator } = context;
  const initial = await rssOf(context);
  const warmupConnections = options.idleWarmup * Math.max(1, target.servers.length);
  try {
    if (warmupConnections > 0) {
      context.note(`warm-up: ${warmupConnections} connections`);
      await connectIdle(context, warmupConnections);
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    }
    const before = await rssOf(context);
    const points: Array<[number, number]> = [[0, sum(before)]];
    const batch = Math.ceil(options.idle / BATCHES);
    let connected = 0;
    while (connected < options.idle) {
      const size = Math.min(batch, options.idle - connected);
      await connectIdle(context, size);
      connected += size;
      context.note(`${connected} connections (+${warmupConnections} warm-up)`);
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      points.push([connected, sum(await rssOf(context))]);
    }
    const after = await rssOf(context);
    if (target.servers.length === 0) {
      return {
        connections: connected,
        warmupConnections,
        warmupMiB: null,
        rssBeforeMiB: null,
        rssAfterMiB: null,
        perConnectionKB: null,
        averagePerConnectionKB: null,
        perServer: [],
      };
    }
    return {
      connections: connected,
      warmupConnections,
      warmupMiB: mib(sum(before) - sum(initial)),
      rssBeforeMiB: mib(sum(before)),
      rssAfterMiB: mib(sum(after)),
      perConnectionKB: round(slope(points) / 1000, 1),
      averagePerConnectionKB: round((sum(after) - sum(before)) / connected / 1000, 1),
      perServer: target.servers.map((server, index) => ({
        name: server.name,
        beforeMiB: mib(before[index] ?? 0),
        afterMiB: mib(after[index] ?? 0),
      })),
    };
  } finally {
    await generator.closeClients();
  }
}
