import { round } from '../load/stats.js';
import { rssBytes } from '../targets/process-stats.js';
import { clientSpecs, type WorkloadContext } from './workload-context.js';

/** Connections are added in this many equal batches; memory is read after each. */
const BATCHES = 4;
/** How long connections sit idle before memory is read. */
const SETTLE_MS = 2000;

/** Idle memory: N idle WebSocket connections, resident memory added per connection. */
export interface IdleMemoryResult {
  connections: number;
  /** Sum over the server processes, MiB, before the first and after the last batch. */
  rssBeforeMiB: number | null;
  rssAfterMiB: number | null;
  /**
   * Marginal resident memory per connection, KB (1000 bytes): the least-squares slope of RSS
   * against connections over the batches, so one-off heap growth weighs less than in a single
   * before/after difference. `null` when server processes are not visible (`--url`).
   */
  perConnectionKB: number | null;
  /** (RSS after − RSS before) / N, KB, for comparison. */
  averagePerConnectionKB: number | null;
  perServer: Array<{ name: string; beforeMiB: number; afterMiB: number }>;
}

async function rssOf(context: WorkloadContext): Promise<number[]> {
  return Promise.all(context.target.servers.map(async (s) => (await rssBytes(s.pid)) ?? 0));
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

/** Runs the idle-memory workload. */
export async function idleMemory(context: WorkloadContext): Promise<IdleMemoryResult> {
  const { target, options, generator } = context;
  const before = await rssOf(context);
  const points: Array<[number, number]> = [[0, sum(before)]];
  const batch = Math.ceil(options.idle / BATCHES);
  let connected = 0;
  try {
    while (connected < options.idle) {
      const size = Math.min(batch, options.idle - connected);
      const result = await generator.connect(clientSpecs(context, size));
      if (result.errors.length > 0) {
        throw new Error(
          `${result.errors.length} idle clients could not connect: ${result.errors[0]}`,
        );
      }
      connected += size;
      context.note(`${connected} connections`);
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      points.push([connected, sum(await rssOf(context))]);
    }
    const after = await rssOf(context);
    if (target.servers.length === 0) {
      return {
        connections: connected,
        rssBeforeMiB: null,
        rssAfterMiB: null,
        perConnectionKB: null,
        averagePerConnectionKB: null,
        perServer: [],
      };
    }
    return {
      connections: connected,
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
