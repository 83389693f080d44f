import { type LatencySummary, nowMs, summarize } from '../load/stats.js';
import { withClients } from './connected-clients.js';
import { clientSpecs, type WorkloadContext } from './workload-context.js';

const ROOM = 'recovery';
/** The node killed mid-stream: with least_conn, it holds about a third of the clients. */
const VICTIM = 'node2';
/** The benchmark's nodes' API key (`bench/targets/push-node.ts`). */
const API_KEY = 'benchmark-publish-key';
/** The shortest run: the kill at 2 s, then time for every client of the killed node to come back. */
const MIN_SECONDS = 6;
/** Padding that makes each message's `data` about 100 bytes of JSON, as in the other workloads. */
const PAD = 'x'.repeat(52);

/**
 * Recovery: C clients of the project's client library in one room, R msgs/s published over HTTP
 * (as a backend does) through nginx for D seconds (at least 6); 2 s in, the node holding a third of the
 * clients is killed (SIGKILL). Its clients reconnect through nginx and recover from the room's
 * history. Every accepted message must reach every client exactly once.
 */
export interface RecoveryResult {
  clients: number;
  killed: string;
  /** Publishes accepted (HTTP 202) and refused during the run. */
  accepted: number;
  refused: number;
  /** Clients that lost their connection, reconnected and rejoined. */
  reconnected: number;
  /** From the kill until each of them had rejoined and received what it missed, ms. */
  catchUp: LatencySummary;
  /** Messages those clients missed live and got through the recovery. */
  replayed: number;
  notRecovered: number;
  lost: number;
  duplicated: number;
}

/** Runs the recovery workload; `undefined` for a target whose servers the benchmark cannot kill. */
export async function recovery(context: WorkloadContext): Promise<RecoveryResult | undefined> {
  const { target, generator, options } = context;
  const kill = target.kill;
  if (kill === undefined) return undefined;
  const specs = (await clientSpecs(context, options.clients, () => [ROOM])).map((spec) => ({
    ...spec,
    client: 'push-client' as const,
  }));
  return withClients(context, specs, async () => {
    // Long enough for the kill at 2 s and the reconnects after it, even in a quick run.
    const seconds = Math.max(options.duration, MIN_SECONDS);
    const total = Math.round(options.rate * seconds);
    generator.phase(total);
    const rooms: Array<string | undefined> = new Array(total).fill(undefined);
    let refused = 0;
    let killedAt = 0;
    const started = nowMs();
    const pending: Promise<void>[] = [];
    for (let seq = 0; seq < total; seq++) {
      const due = started + (seq * 1000) / options.rate;
      if (due > nowMs()) await new Promise((resolve) => setTimeout(resolve, due - nowMs()));
      if (killedAt === 0 && nowMs() - started >= 2000) {
        context.note(`killing ${VICTIM}`);
        killedAt = nowMs();
        await kill(VICTIM);
      }
      pending.push(
        fetch(`${target.url}/api/publish`, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ room: ROOM, data: { seq, t: nowMs(), pad: PAD } }),
          signal: AbortSignal.timeout(15_000),
        }).then(
          async (response) => {
            await response.arrayBuffer();
            if (response.status === 202) rooms[seq] = ROOM;
            else refused++;
          },
          () => {
            refused++;
          },
        ),
      );
    }
    await Promise.all(pending);
    const accepted = rooms.filter((room) => room !== undefined).length;
    await generator.drain(accepted * options.clients, 3000, 30_000);
    const { tally } = await generator.collect(rooms);
    const stats = await generator.recovery();
    return {
      clients: options.clients,
      killed: VICTIM,
      accepted,
      refused,
      reconnected: stats.reconnected,
      catchUp: summarize(stats.caughtUpAt.map((at) => at - killedAt)),
      replayed: stats.replayed,
      notRecovered: stats.notRecovered,
      lost: tally.lost,
      duplicated: tally.duplicated,
    };
  });
}
