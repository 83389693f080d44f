import type { BenchOptions } from '../options.js';
import type { AuthCostResult } from '../workloads/auth-cost.js';
import type { ConnectBurst } from '../workloads/connect.js';
import type { CrowdResult } from '../workloads/crowd.js';
import type { FanoutResult } from '../workloads/fanout.js';
import type { IdleMemoryResult } from '../workloads/idle-memory.js';
import type { RoomsResult } from '../workloads/rooms.js';
import type { SaturationResult } from '../workloads/saturation.js';
import type { StormResult } from '../workloads/storm.js';
import type { MachineDescription } from './machine.js';

/** Everything measured on one target. */
export interface TargetResults {
  name: string;
  description: string;
  idle?: IdleMemoryResult;
  connect?: ConnectBurst;
  fanout?: FanoutResult;
  /** The connect burst and fanout as guests; `null`: the target has no auth (ws-raw). */
  auth?: AuthCostResult | null;
  saturation?: SaturationResult;
  /** `null`: the target has no rooms (ws-raw). */
  rooms?: RoomsResult | null;
  /** `null`: the benchmark cannot kill the target's servers. */
  storm?: StormResult | null;
  crowd?: CrowdResult;
  /** Set when the target failed to start or a workload failed. */
  error?: string;
}

/** A figure of one target over the same figure of another, in the same run. */
export interface Ratio {
  metric: string;
  of: string;
  over: string;
  value: number | null;
}

/** The JSON written under `bench/results/`. */
export interface BenchReport {
  startedAt: string;
  durationS: number;
  options: BenchOptions;
  machine: MachineDescription;
  targets: TargetResults[];
  ratios: Ratio[];
  /** Loss, duplicates, misdeliveries or connect errors outside the saturation ramp. */
  problems: string[];
}

const METRICS: Array<{ metric: string; read: (t: TargetResults) => number | null | undefined }> = [
  { metric: 'fanout delivered msgs/s', read: (t) => t.fanout?.deliveredPerSec },
  { metric: 'fanout p99 ms', read: (t) => t.fanout?.latency.p99 },
  {
    metric: 'saturation max deliveries/s',
    read: (t) => t.saturation?.maxSustainedDeliveriesPerSec,
  },
  { metric: 'idle KB/connection', read: (t) => t.idle?.perConnectionKB },
  { metric: 'connects/s', read: (t) => t.connect?.connectsPerSec },
];

/** cluster/single and cluster/ws-raw for the headline figures. */
export function ratios(targets: TargetResults[]): Ratio[] {
  const byName = new Map(targets.map((t) => [t.name, t]));
  const cluster = byName.get('cluster');
  if (cluster === undefined) return [];
  const out: Ratio[] = [];
  for (const over of ['cluster-no-history', 'single', 'ws-raw']) {
    const base = byName.get(over);
    if (base === undefined) continue;
    for (const { metric, read } of METRICS) {
      const a = read(cluster);
      const b = read(base);
      const value = a == null || b == null || b === 0 ? null : Math.round((a / b) * 100) / 100;
      out.push({ metric, of: 'cluster', over, value });
    }
  }
  return out;
}

/** What must never happen, whatever the load: listed, and the run fails. */
export function problems(targets: TargetResults[]): string[] {
  const found: string[] = [];
  for (const t of targets) {
    if (t.error !== undefined) found.push(`${t.name}: ${t.error}`);
    for (const [name, m] of [
      ['fanout warm-up', t.fanout?.warmup ?? undefined],
      ['fanout', t.fanout],
      ['guest fanout warm-up', t.auth?.guestFanout.warmup ?? undefined],
      ['guest fanout', t.auth?.guestFanout],
      ['rooms', t.rooms ?? undefined],
      ['crowd', t.crowd?.fanout ?? undefined],
    ] as const) {
      if (m === undefined) continue;
      if (m.lost > 0) found.push(`${t.name} ${name}: ${m.lost} deliveries lost`);
      if (m.duplicated > 0) found.push(`${t.name} ${name}: ${m.duplicated} duplicates`);
      if (m.misdelivered > 0) found.push(`${t.name} ${name}: ${m.misdelivered} misdelivered`);
      if (m.refused > 0) found.push(`${t.name} ${name}: ${m.refused} publishes refused`);
      if (m.disconnects > 0) found.push(`${t.name} ${name}: ${m.disconnects} disconnects`);
    }
    const stormed = t.storm ?? undefined;
    if (stormed !== undefined) {
      if (stormed.lost > 0) found.push(`${t.name} storm: ${stormed.lost} deliveries lost`);
      if (stormed.duplicated > 0) found.push(`${t.name} storm: ${stormed.duplicated} duplicates`);
      if (stormed.notRecovered > 0) {
        found.push(`${t.name} storm: ${stormed.notRecovered} rooms not recovered`);
      }
      if (stormed.reconnected < stormed.clients) {
        const why = Object.entries(stormed.connectErrors)
          .map(([reason, count]) => `${count} × ${reason}`)
          .join(', ');
        found.push(
          `${t.name} storm: ${stormed.clients - stormed.reconnected} clients not back (failed attempts: ${why || 'none'})`,
        );
      }
    }
    if (t.crowd !== undefined && t.crowd.refused > 0) {
      found.push(
        `${t.name} crowd: ${t.crowd.refused} of ${t.crowd.clients} clients refused, the first after ${t.crowd.firstRefusalAfter} connected (${t.crowd.firstError})`,
      );
    }
    if (t.crowd?.fanoutError != null) {
      found.push(`${t.name} crowd: the fanout failed (${t.crowd.fanoutError})`);
    }
    for (const [name, burst] of [
      ['connect', t.connect],
      ['token connect', t.auth?.tokenConnect],
      ['guest connect', t.auth?.guestConnect],
    ] as const) {
      if (burst !== undefined && burst.errors > 0) {
        found.push(`${t.name} ${name}: ${burst.errors} errors (${burst.firstError})`);
      }
    }
  }
  return found;
}
