import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { SocketIoClientKind } from './load/messages.js';

/** Every target the benchmark can start itself. */
export const TARGET_NAMES = ['cluster', 'cluster-no-history', 'single', 'ws-raw'] as const;
/** Targets that run only some workloads: the history comparison needs only these two. */
export const TARGET_WORKLOADS: Readonly<Record<string, readonly string[]>> = {
  'cluster-no-history': ['fanout', 'saturation'],
  single: ['idle', 'connect', 'fanout', 'auth', 'saturation', 'rooms', 'crowd'],
  'ws-raw': ['idle', 'connect', 'fanout', 'auth', 'saturation', 'rooms'],
};
/** Every workload. */
export const WORKLOAD_NAMES = [
  'idle',
  'connect',
  'fanout',
  'auth',
  'saturation',
  'rooms',
  'storm',
  'crowd',
] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];
const CLIENT_KINDS = ['raw', 'socket.io-client'] as const;

/** How the benchmark is sized; defaults fit a 2-core machine in a few minutes. */
export interface BenchOptions {
  quick: boolean;
  /** Measure a running cluster instead of starting targets. */
  url: string | undefined;
  /** The running cluster's `AUTH_JWT_SECRET`, to sign its clients' tokens (`--url`). */
  jwtSecret: string;
  targets: string[];
  workloads: WorkloadName[];
  /** Clients of fanout, saturation, rooms and connect. */
  clients: number;
  /** Fanout publish rate, msgs/s. */
  rate: number;
  /** Fanout and rooms duration, seconds. */
  duration: number;
  /** Fanout warm-up at the same rate before the timed run, seconds (0: none). */
  warmup: number;
  rooms: number;
  /** Rooms publish rate, msgs/s. */
  roomRate: number;
  /** Clients of the crowd workload (connected and held, 1 msg/s each). */
  crowd: number;
  /** Idle connections for the memory workload. */
  idle: number;
  /** Warm-up connections per server process, opened before the idle ones are measured. */
  idleWarmup: number;
  /** Seconds per saturation step. */
  stepDuration: number;
  maxSteps: number;
  workers: number;
  /** Which client simulates Socket.IO users in idle/fanout/saturation/rooms. */
  client: SocketIoClientKind;
  /** Where results go. */
  out: string;
}

/** docker-compose.yml's development `AUTH_JWT_SECRET` (its default when none is set). */
const COMPOSE_DEV_JWT_SECRET = 'local-dev-jwt-secret-change-me-0123456789';

const USAGE = `npm run bench -- [options]
  --quick              smoke run (< 1 min): small sizes; results under bench/results/quick.*
  --url <url>          measure a running cluster (e.g. http://localhost:8080) instead of starting targets
  --jwt-secret <s>     that cluster's AUTH_JWT_SECRET, for its clients' tokens
                       (default: docker-compose.yml's development secret)
  --targets <list>     comma-separated: ${TARGET_NAMES.join(',')} (default: all)
  --workloads <list>   comma-separated: ${WORKLOAD_NAMES.join(',')} (default: all)
  --clients <n>        clients for fanout/saturation/rooms/connect (default 1000)
  --rate <n>           fanout msgs/s (default 50)
  --duration <s>       fanout and rooms seconds (default 10)
  --warmup <s>         fanout seconds at the same rate before the timed run (default 2)
  --rooms <n>          rooms of 2-10 members (default 500)
  --room-rate <n>      rooms msgs/s (default 200)
  --crowd <n>          clients of the crowd workload: connected through nginx, held, 1 msg/s
                       each for --duration seconds (default 10000)
  --idle <n>           idle connections for memory (default 1000)
  --idle-warmup <n>    connections per server process opened first and not measured
                       (default 1000: a node's first connections also grow its heap once)
  --step-duration <s>  saturation seconds per step (default 3)
  --max-steps <n>      saturation steps from rate/4, doubling (default 7)
  --workers <n>        load-generator threads (default: cores, at most 4)
  --client <kind>      raw (default: Socket.IO protocol on a lean WebSocket client) or socket.io-client
                       for idle/fanout/saturation/rooms; connect always uses socket.io-client
  --out <dir>          results directory (default bench/results)`;

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) {
    throw new Error(`--${name} must be a positive number (got "${value}")\n\n${USAGE}`);
  }
  return number;
}

function nonNegative(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) {
    throw new Error(`--${name} must be a whole number ≥ 0 (got "${value}")\n\n${USAGE}`);
  }
  return number;
}

function list<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
): T[] {
  if (value === undefined) return [...allowed];
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item as T)) {
      throw new Error(`--${name}: unknown "${item}" (one of ${allowed.join(', ')})\n\n${USAGE}`);
    }
  }
  return items as T[];
}

/** Parses `argv`; throws with the usage text on a bad flag. */
export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      quick: { type: 'boolean' },
      url: { type: 'string' },
      'jwt-secret': { type: 'string' },
      targets: { type: 'string' },
      workloads: { type: 'string' },
      clients: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rooms: { type: 'string' },
      'room-rate': { type: 'string' },
      crowd: { type: 'string' },
      idle: { type: 'string' },
      'idle-warmup': { type: 'string' },
      'step-duration': { type: 'string' },
      'max-steps': { type: 'string' },
      workers: { type: 'string' },
      client: { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  if (values.url !== undefined && !/^https?:\/\//.test(values.url)) {
    throw new Error(`--url must be an http(s) URL (got "${values.url}")`);
  }
  return {
    quick,
    url: values.url,
    jwtSecret: values['jwt-secret'] ?? COMPOSE_DEV_JWT_SECRET,
    targets: values.url === undefined ? list('targets', values.targets, TARGET_NAMES) : ['url'],
    workloads: list('workloads', values.workloads, WORKLOAD_NAMES),
    clients: positive('clients', values.clients, quick ? 100 : 1000),
    rate: positive('rate', values.rate, quick ? 20 : 50),
    duration: positive('duration', values.duration, quick ? 2 : 10),
    warmup: nonNegative('warmup', values.warmup, quick ? 1 : 2),
    rooms: positive('rooms', values.rooms, quick ? 40 : 500),
    roomRate: positive('room-rate', values['room-rate'], quick ? 50 : 200),
    crowd: Math.round(positive('crowd', values.crowd, quick ? 500 : 10_000)),
    idle: positive('idle', values.idle, quick ? 100 : 1000),
    idleWarmup: nonNegative('idle-warmup', values['idle-warmup'], quick ? 20 : 1000),
    stepDuration: positive('step-duration', values['step-duration'], quick ? 1 : 3),
    maxSteps: positive('max-steps', values['max-steps'], quick ? 3 : 7),
    workers: positive('workers', values.workers, Math.min(4, availableParallelism())),
    client: list('client', values.client, CLIENT_KINDS)[0] ?? 'raw',
    out: values.out ?? 'bench/results',
  };
}

export { USAGE };
