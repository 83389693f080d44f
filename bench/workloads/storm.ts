import { PushPublisher } from '../../src/publisher/index.js';
import { type LatencySummary, nowMs, summarize } from '../load/stats.js';
import { cpuMs, sumOver, withDescendants } from '../targets/process-stats.js';
import { withClients } from './connected-clients.js';
import { clientSpecs, type WorkloadContext } from './workload-context.js';

/** The node that holds every client, then dies. */
const VICTIM = 'node2';
/** The benchmark's nodes' API key (`bench/targets/push-node.ts`). */
const API_KEY = 'benchmark-publish-key';
/** Members per room: the clients are spread over rooms of this size. */
const ROOM_SIZE = 10;
/** Published messages per second, over all rooms. */
const RATE = 100;
/** The kill comes 2 s into the stream, which goes on for at least this long after it. */
const AFTER_KILL_SECONDS = 6;
/**
 * How long the other nodes stay up before the kill, so that nginx, which marked them failed
 * while they were down, sends them sessions again (its `fail_timeout`, 5 s).
 */
const NGINX_FAIL_TIMEOUT_MS = 6_000;
/**
 * How long the deliveries may stall before the run stops waiting for the rest: longer than a
 * client that is still coming back can stay silent — the longest wait between two reconnect
 * attempts (Socket.IO's `reconnectionDelayMax`, 5 s) plus one attempt that runs into its connect
 * timeout (20 s). A client still retrying is slow, and shows in the catch-up figures; only one
 * that does not come back within `DRAIN_MAX_MS` counts as not back.
 */
const DRAIN_QUIET_MS = 25_000;
const DRAIN_MAX_MS = 60_000;
/** Padding that makes each message's `data` about 100 bytes of JSON, as in the other workloads. */
const PAD = 'x'.repeat(52);

/**
 * Storm: C clients of the project's client library (a third long-polling) all on one node, in
 * rooms of 10, while a backend publishes 100 msgs/s over the rooms through nginx; 2 s into the
 * stream that node is killed (SIGKILL). Every client reconnects through nginx at once to the
 * other two nodes, which had none of its rooms, and recovers from the rooms' histories. Reported:
 * the time from the kill until each client had rejoined with what it missed, and lost / not
 * recovered (any of them fails the run).
 */
export interface StormResult {
  clients: number;
  /** Of which long-polling only. */
  polling: number;
  rooms: number;
  rate: number;
  killed: string;
  /** Publishes accepted (HTTP 202) and refused during the run (retried with their key while unknown). */
  accepted: number;
  refused: number;
  /** Clients that lost their connection, reconnected and rejoined. */
  reconnected: number;
  /** Of them, those whose first attempt failed, and the most attempts one needed. */
  retried: number;
  maxAttempts: number;
  /** Why reconnect attempts failed (the server's code, or the transport's reason), and how often. */
  connectErrors: Record<string, number>;
  /** From the kill until each of them had rejoined and received what it missed, ms. */
  catchUp: LatencySummary;
  /**
   * Where that time went, ms: from the kill until the client saw its connection lost, from then
   * until a node welcomed it again (backoff, handshake through nginx, token, per-user count, and
   * the rooms asked for in the handshake joined with what was missed), and from then until its
   * rooms were rejoined (0 when the welcome answered them all; else the `subscribe` round trips).
   */
  phases: { noticed: LatencySummary; connected: LatencySummary; rejoined: LatencySummary };
  /** The catch-up of the WebSocket clients and of the long-polling ones, ms. */
  catchUpBy: { websocket: LatencySummary; polling: LatencySummary };
  /** Messages those clients missed live and got through the recovery. */
  replayed: number;
  notRecovered: number;
  lost: number;
  duplicated: number;
  /**
   * CPU spent from the kill to the end of the run (6 s of publishing, then until every message
   * arrived), ms: by the surviving nodes, by nginx and Redis, and by the load generator (its
   * clients' reconnects and deliveries, the publisher), which shares the machine.
   */
  cpuMs: { nodes: number; infrastructure: number; generator: number };
}

/** Runs the storm; `undefined` for a target whose nodes the benchmark cannot kill and start. */
export async function storm(context: WorkloadContext): Promise<StormResult | undefined> {
  const { target, generator, options } = context;
  const { kill, start } = target;
  if (kill === undefined || start === undefined) return undefined;
  const others = target.servers.map((server) => server.name).filter((name) => name !== VICTIM);
  const roomCount = Math.max(1, Math.ceil(options.clients / ROOM_SIZE));
  const roomOf = (index: number) => `storm-${index % roomCount}`;
  const specs = (await clientSpecs(context, options.clients, (index) => [roomOf(index)])).map(
    (spec, index) => ({
      ...spec,
      transports: index % 3 === 0 ? ['polling' as const] : ['websocket' as const],
      client: 'push-client' as const,
    }),
  );
  // Every client on the victim: the others are down while they connect, and come back after.
  context.note(`${options.clients} clients on ${VICTIM}`);
  for (const name of others) await kill(name);
  try {
    return await withClients(context, specs, async () => {
      for (const name of others) await start(name);
      await new Promise((resolve) => setTimeout(resolve, NGINX_FAIL_TIMEOUT_MS));
      const seconds = 2 + AFTER_KILL_SECONDS;
      const total = RATE * seconds;
      generator.phase(total);
      const rooms: Array<string | undefined> = new Array(total).fill(undefined);
      let refused = 0;
      // A careful backend: every message under its key, sent again while its outcome is unknown.
      const publisher = new PushPublisher(target.url, {
        apiKey: API_KEY,
        retryForMs: 20_000,
        requestTimeoutMs: 15_000,
      });
      let killedAt = 0;
      const survivors = () =>
        target.servers.filter((server) => server.name !== VICTIM).map((server) => server.pid);
      const infrastructure = (
        await Promise.all(target.infrastructure.map((server) => withDescendants(server.pid)))
      ).flat();
      const cpuNow = async () => {
        const generator = process.cpuUsage();
        return {
          nodes: await sumOver(survivors(), cpuMs),
          infrastructure: await sumOver(infrastructure, cpuMs),
          generator: (generator.user + generator.system) / 1000,
        };
      };
      let cpuAtKill = await cpuNow();
      const started = nowMs();
      const pending: Promise<void>[] = [];
      for (let seq = 0; seq < total; seq++) {
        const due = started + (seq * 1000) / RATE;
        if (due > nowMs()) await new Promise((resolve) => setTimeout(resolve, due - nowMs()));
        if (killedAt === 0 && nowMs() - started >= 2000) {
          context.note(`killing ${VICTIM}`);
          cpuAtKill = await cpuNow();
          killedAt = nowMs();
          await kill(VICTIM);
        }
        const room = roomOf(seq);
        pending.push(
          publisher
            .publish({ room, data: { seq, t: nowMs(), pad: PAD }, idempotencyKey: `storm-${seq}` })
            .then((outcome) => {
              if (outcome.status === 'published') rooms[seq] = room;
              else refused++;
            }),
        );
      }
      await Promise.all(pending);
      const accepted = rooms.filter((room) => room !== undefined).length;
      await generator.drain(accepted * ROOM_SIZE, DRAIN_QUIET_MS, DRAIN_MAX_MS);
      const { tally } = await generator.collect(rooms);
      const stats = await generator.recovery();
      const cpuAtEnd = await cpuNow();
      return {
        clients: options.clients,
        polling: specs.filter((spec) => spec.transports[0] === 'polling').length,
        rooms: roomCount,
        rate: RATE,
        killed: VICTIM,
        accepted,
        refused,
        reconnected: stats.reconnected,
        retried: stats.retried,
        maxAttempts: stats.maxAttempts,
        connectErrors: stats.connectErrors,
        catchUp: summarize(stats.caughtUpAt.map((at) => at - killedAt)),
        phases: {
          noticed: summarize(stats.lostAt.map((at) => at - killedAt)),
          connected: summarize(stats.welcomedAt.map((at, i) => at - (stats.lostAt[i] ?? 0))),
          rejoined: summarize(stats.caughtUpAt.map((at, i) => at - (stats.welcomedAt[i] ?? 0))),
        },
        catchUpBy: {
          websocket: summarize(
            stats.caughtUpAt.filter((_, i) => stats.polling[i] === 0).map((at) => at - killedAt),
          ),
          polling: summarize(
            stats.caughtUpAt.filter((_, i) => stats.polling[i] === 1).map((at) => at - killedAt),
          ),
        },
        replayed: stats.replayed,
        notRecovered: stats.notRecovered,
        lost: tally.lost,
        duplicated: tally.duplicated,
        cpuMs: {
          nodes: Math.round(cpuAtEnd.nodes - cpuAtKill.nodes),
          infrastructure: Math.round(cpuAtEnd.infrastructure - cpuAtKill.infrastructure),
          generator: Math.round(cpuAtEnd.generator - cpuAtKill.generator),
        },
      };
    });
  } finally {
    // The next workload finds the whole cluster again.
    await start(VICTIM).catch(() => undefined);
    for (const name of others) await start(name).catch(() => undefined);
  }
}
