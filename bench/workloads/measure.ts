import type { ClientSpec } from '../load/messages.js';
import { PacedPublisher } from '../load/paced-publisher.js';
import { type LatencySummary, nowMs, round, summarize } from '../load/stats.js';
import { cpuMs, sumOver, withDescendants } from '../targets/process-stats.js';
import { withClients } from './connected-clients.js';
import type { WorkloadContext } from './workload-context.js';

/** One paced publishing run, accounted per client and message. */
export interface Measurement {
  /** Offered publish rate, msgs/s. */
  rate: number;
  messages: number;
  /** Offered deliveries/s: rate × subscribers per message, on average. */
  offeredDeliveriesPerSec: number;
  deliveredPerSec: number;
  latency: LatencySummary;
  expected: number;
  lost: number;
  duplicated: number;
  misdelivered: number;
  /** Publishes refused by the server. */
  refused: number;
  disconnects: number;
  /** CPU of the server processes, % of one core (summed); `null` when not visible. */
  serverCpuPct: number | null;
  /** CPU of nginx and Redis, % of one core; `null` when the target has none. */
  infrastructureCpuPct: number | null;
  /** CPU of the benchmark process (generator threads + publisher), % of one core. */
  generatorCpuPct: number;
  /** Event-loop utilization per generator thread (1 = the generator is the limit). */
  workerUtilization: number[];
}

/**
 * Publishes at `rate` msgs/s for `durationMs` (message `seq` to `roomOf(seq)`), waits for
 * in-flight deliveries, and accounts for every expected delivery.
 */
export async function measure(
  context: WorkloadContext,
  publisher: PacedPublisher,
  rate: number,
  durationMs: number,
  roomOf: (seq: number) => string | null,
  subscribersOf: (room: string | null) => number,
): Promise<Measurement> {
  const { generator, target } = context;
  const pids = target.servers.map((server) => server.pid);
  const infraPids = (
    await Promise.all(target.infrastructure.map((process) => withDescendants(process.pid)))
  ).flat();
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  generator.phase(total);
  const cpuBefore = process.cpuUsage();
  const serverCpuBefore = await sumOver(pids, cpuMs);
  const infraCpuBefore = await sumOver(infraPids, cpuMs);
  const started = nowMs();

  const run = await publisher.run(rate, durationMs, roomOf);
  const expectedTotal = run.rooms.reduce((sum, room) => sum + subscribersOf(room), 0);
  await generator.drain(expectedTotal);
  const result = await generator.collect(run.rooms);

  const wallMs = nowMs() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const serverCpu = (await sumOver(pids, cpuMs)) - serverCpuBefore;
  const infraCpu = (await sumOver(infraPids, cpuMs)) - infraCpuBefore;
  const deliveryWindowMs = Math.max(
    durationMs,
    run.elapsedMs,
    result.tally.lastReceiptAt - started,
  );
  return {
    rate,
    messages: run.rooms.length,
    offeredDeliveriesPerSec: round((expectedTotal / run.rooms.length) * rate, 0),
    deliveredPerSec: round((result.tally.delivered / deliveryWindowMs) * 1000, 0),
    latency: summarize(result.latencies),
    expected: result.tally.expected,
    lost: result.tally.lost,
    duplicated: result.tally.duplicated,
    misdelivered: result.tally.misdelivered,
    refused: run.refused,
    disconnects: result.tally.disconnects,
    serverCpuPct: pids.length === 0 ? null : round((serverCpu / wallMs) * 100, 0),
    infrastructureCpuPct: infraPids.length === 0 ? null : round((infraCpu / wallMs) * 100, 0),
    generatorCpuPct: round(((cpu.user + cpu.system) / 1000 / wallMs) * 100, 0),
    workerUtilization: result.workerUtilization,
  };
}

/**
 * Connects the subscribers `specs` and the publishers, runs `body` with the publisher, and always
 * disconnects both. Fails when a subscriber cannot connect (see {@link withClients}).
 */
export function withSubscribersAndPublisher<T>(
  context: WorkloadContext,
  specs: ClientSpec[],
  body: (publisher: PacedPublisher) => Promise<T>,
): Promise<T> {
  return withClients(context, specs, async () => {
    const publisher = await PacedPublisher.connect(context.target);
    try {
      return await body(publisher);
    } finally {
      publisher.close();
    }
  });
}
