import type { BenchReport, Ratio, TargetResults } from './bench-report.js';

type Row = [
  workload: string,
  metric: string,
  read: (t: TargetResults) => string,
  ratioMetric?: string,
];

const dash = '—';
const num = (value: number | null | undefined) =>
  value == null ? dash : value.toLocaleString('en-US', { maximumFractionDigits: 1 });

/** `tokens / guests` for a target with auth, `n/a` for one without, a dash when not measured. */
function pair(
  t: TargetResults,
  tokens: number | null | undefined,
  guests: number | null | undefined,
): string {
  if (t.auth === null) return 'n/a';
  return t.auth === undefined ? dash : `${num(tokens)} / ${num(guests)}`;
}

/** The results as one Markdown table: each target × workload, with the ratios. */
export function markdownTable(report: BenchReport): string {
  const { options } = report;
  const rows: Row[] = [
    [
      'idle memory',
      `${options.idle} idle conns (after ${options.idleWarmup}/node warm-up): KB/conn`,
      (t) => num(t.idle?.perConnectionKB),
      'idle KB/connection',
    ],
    [
      'connect',
      `${options.clients} at once: connects/s`,
      (t) => num(t.connect?.connectsPerSec),
      'connects/s',
    ],
    [
      '',
      'connect p50 / p99 ms',
      (t) => (t.connect ? `${num(t.connect.latency.p50)} / ${num(t.connect.latency.p99)}` : dash),
    ],
    ['', 'connect errors', (t) => num(t.connect?.errors)],
    [
      'fanout',
      `${options.clients} clients × ${options.rate} msgs/s: delivered msgs/s`,
      (t) => num(t.fanout?.deliveredPerSec),
      'fanout delivered msgs/s',
    ],
    [
      '',
      'latency p50 / p95 / p99 / max ms',
      (t) =>
        t.fanout
          ? `${num(t.fanout.latency.p50)} / ${num(t.fanout.latency.p95)} / ${num(t.fanout.latency.p99)} / ${num(t.fanout.latency.max)}`
          : dash,
      'fanout p99 ms',
    ],
    [
      '',
      `first ${options.warmup} s (warm-up, not in the line above): p50 / p99 ms`,
      (t) =>
        t.fanout?.warmup
          ? `${num(t.fanout.warmup.latency.p50)} / ${num(t.fanout.warmup.latency.p99)}`
          : dash,
    ],
    [
      '',
      'lost / duplicated (warm-up included)',
      (t) =>
        t.fanout
          ? `${t.fanout.lost + (t.fanout.warmup?.lost ?? 0)} / ${t.fanout.duplicated + (t.fanout.warmup?.duplicated ?? 0)}`
          : dash,
    ],
    [
      '',
      'CPU % of a core: nodes / nginx+Redis / generator',
      (t) =>
        t.fanout
          ? `${num(t.fanout.serverCpuPct)} / ${num(t.fanout.infrastructureCpuPct)} / ${num(t.fanout.generatorCpuPct)}`
          : dash,
    ],
    [
      '',
      'generator thread utilization (1 = generator-bound)',
      (t) => (t.fanout ? t.fanout.workerUtilization.map((u) => u.toFixed(2)).join(' / ') : dash),
    ],
    [
      'auth cost',
      `connects/s (best of 2 bursts of ${options.clients}): tokens / guests`,
      (t) => pair(t, t.auth?.tokenConnect.connectsPerSec, t.auth?.guestConnect.connectsPerSec),
    ],
    [
      '',
      'connect p99 ms: tokens / guests',
      (t) => pair(t, t.auth?.tokenConnect.latency.p99, t.auth?.guestConnect.latency.p99),
    ],
    [
      '',
      'fanout p99 ms: tokens / guests',
      (t) => pair(t, t.fanout?.latency.p99, t.auth?.guestFanout.latency.p99),
    ],
    [
      'saturation',
      'max sustained deliveries/s (p99 ≤ 100 ms, no loss)',
      (t) => num(t.saturation?.maxSustainedDeliveriesPerSec),
      'saturation max deliveries/s',
    ],
    ['', 'stopped because', (t) => t.saturation?.stoppedBecause ?? dash],
    [
      'rooms',
      `${options.rooms} rooms of 2–10, ${options.roomRate} msgs/s: delivered msgs/s`,
      (t) => (t.rooms === null ? 'n/a' : num(t.rooms?.deliveredPerSec)),
    ],
    [
      '',
      'latency p50 / p99 ms',
      (t) =>
        t.rooms
          ? `${num(t.rooms.latency.p50)} / ${num(t.rooms.latency.p99)}`
          : t.rooms === null
            ? 'n/a'
            : dash,
    ],
    [
      '',
      'lost / duplicated / misdelivered',
      (t) =>
        t.rooms
          ? `${t.rooms.lost} / ${t.rooms.duplicated} / ${t.rooms.misdelivered}`
          : t.rooms === null
            ? 'n/a'
            : dash,
    ],
    [
      '',
      'received from Redis per node, % of published (% of rooms with members there)',
      (t) => {
        if (t.rooms === null) return 'n/a';
        const feed = t.rooms?.feed ?? [];
        if (feed.length === 0) return dash;
        const pct = (share: number) => String(Math.round(share * 100));
        return `${feed.map((f) => pct(f.receivedShare)).join(' / ')} (${feed.map((f) => pct(f.roomsShare)).join(' / ')})`;
      },
    ],
    [
      'storm',
      `${options.clients} clients (a third long-polling) on node2, killed under 100 msgs/s: clients back / messages replayed`,
      (t) =>
        t.storm === null
          ? 'n/a'
          : t.storm
            ? `${num(t.storm.reconnected)} / ${num(t.storm.replayed)}`
            : dash,
    ],
    [
      '',
      'caught up after the kill: p50 / p99 / max ms',
      (t) =>
        t.storm === null
          ? 'n/a'
          : t.storm
            ? `${num(t.storm.catchUp.p50)} / ${num(t.storm.catchUp.p99)} / ${num(t.storm.catchUp.max)}`
            : dash,
    ],
    [
      '',
      'of which, p50 / p99 ms: lost noticed; welcomed again (rooms included); rooms rejoined after',
      (t) => {
        if (t.storm === null) return 'n/a';
        const phases = t.storm?.phases;
        if (phases === undefined) return dash;
        const { noticed, connected, rejoined } = phases;
        return [noticed, connected, rejoined]
          .map((s) => `${num(s.p50)} / ${num(s.p99)}`)
          .join('; ');
      },
    ],
    [
      '',
      'caught up, p99 ms: WebSocket / long-polling clients',
      (t) => {
        if (t.storm === null) return 'n/a';
        const by = t.storm?.catchUpBy;
        return by === undefined ? dash : `${num(by.websocket.p99)} / ${num(by.polling.p99)}`;
      },
    ],
    [
      '',
      'CPU s from the kill to the end: nodes / nginx+Redis / generator',
      (t) =>
        t.storm === null
          ? 'n/a'
          : t.storm
            ? [t.storm.cpuMs.nodes, t.storm.cpuMs.infrastructure, t.storm.cpuMs.generator]
                .map((ms) => num(ms / 1000))
                .join(' / ')
            : dash,
    ],
    [
      '',
      'lost / duplicated / not recovered',
      (t) =>
        t.storm === null
          ? 'n/a'
          : t.storm
            ? `${t.storm.lost} / ${t.storm.duplicated} / ${t.storm.notRecovered}`
            : dash,
    ],
    [
      'crowd',
      `${options.crowd} clients connected and held: connected / refused (first refusal after)`,
      (t) =>
        t.crowd
          ? `${num(t.crowd.connected)} / ${num(t.crowd.refused)}${t.crowd.firstRefusalAfter === null ? '' : ` (${num(t.crowd.firstRefusalAfter)})`}`
          : dash,
    ],
    ['', 'connects/s', (t) => num(t.crowd?.connectsPerSec)],
    [
      '',
      'resident memory per connection KB: nodes / nginx',
      (t) =>
        t.crowd
          ? `${num(t.crowd.nodesPerConnectionKB)} / ${t.crowd.nginxMiB === null ? 'n/a' : num(t.crowd.nginxPerConnectionKB)}`
          : dash,
    ],
    [
      '',
      `1 msg/s to every client for ${options.duration} s: delivered msgs/s; p50 / p99 ms; lost`,
      (t) =>
        t.crowd?.fanout
          ? `${num(t.crowd.fanout.deliveredPerSec)}; ${num(t.crowd.fanout.latency.p50)} / ${num(t.crowd.fanout.latency.p99)}; ${t.crowd.fanout.lost}`
          : dash,
    ],
  ];
  const ratioColumns = [...new Set(report.ratios.map((r) => r.over))];
  const header = [
    'workload',
    'metric',
    ...report.targets.map((t) => t.name),
    ...ratioColumns.map((over) => `cluster/${over}`),
  ];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  for (const [workload, metric, read, ratioMetric] of rows) {
    const ratioCells = ratioColumns.map((over) => ratioCell(report.ratios, ratioMetric, over));
    lines.push(`| ${[workload, metric, ...report.targets.map(read), ...ratioCells].join(' | ')} |`);
  }
  return lines.join('\n');
}

function ratioCell(ratios: Ratio[], metric: string | undefined, over: string): string {
  if (metric === undefined) return '';
  const ratio = ratios.find((r) => r.metric === metric && r.over === over);
  return ratio?.value == null ? dash : `${ratio.value}×`;
}
