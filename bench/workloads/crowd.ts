import { PacedPublisher } from '../load/paced-publisher.js';
import { nowMs, round } from '../load/stats.js';
import { rssBytes, sumOver, withDescendants } from '../targets/process-stats.js';
import { rssOf } from './idle-memory.js';
import { type Measurement, measure } from './measure.js';
import { clientSpecs, type WorkloadContext } from './workload-context.js';

const ROOM = 'crowd';
/** Clients are opened this many at a time, so that the first refusal is located within one. */
const CONNECT_CHUNK = 500;
/** The crowd's publish rate: every client receives one message a second. */
const RATE = 1;

/**
 * A crowd: `--crowd` WebSocket clients (10,000 by default) connected through the target's front
 * (nginx, for the cluster) and held, each in one room, then one message a second to all of them
 * for `--duration` seconds. Says how far connecting got before the first refusal, and what
 * the nodes and nginx hold per connection.
 */
export interface CrowdResult {
  clients: number;
  connected: number;
  /** Clients that could not connect. */
  refused: number;
  /**
   * Clients connected before the chunk in which the first refusal happened (a lower bound of how
   * far it got); `null` when none was refused.
   */
  firstRefusalAfter: number | null;
  firstError: string | null;
  connectsPerSec: number;
  /** Resident memory added per connection, KB (after a full GC in the nodes); `null` unseen. */
  nodesPerConnectionKB: number | null;
  nginxPerConnectionKB: number | null;
  /** Resident memory with the crowd connected, MiB. */
  nodesMiB: number | null;
  nginxMiB: number | null;
  /** One message a second to the whole crowd; `null` when nobody connected, or it failed. */
  fanout: Measurement | null;
  /** Why the fanout could not run (e.g. its publisher refused too). */
  fanoutError: string | null;
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/** Runs the crowd workload. */
export async function crowd(context: WorkloadContext): Promise<CrowdResult> {
  const { target, options, generator } = context;
  const count = options.crowd;
  const nginx = target.infrastructure.find((process) => process.name === 'nginx');
  const nginxRss = async () =>
    nginx === undefined ? undefined : sumOver(await withDescendants(nginx.pid), rssBytes);
  const nodesBefore = sum(await rssOf(context));
  const nginxBefore = await nginxRss();
  try {
    let connected = 0;
    let refused = 0;
    let firstRefusalAfter: number | null = null;
    let firstError: string | null = null;
    const started = nowMs();
    for (let opened = 0; opened < count; ) {
      const size = Math.min(CONNECT_CHUNK, count - opened);
      const batch = await generator.connect(await clientSpecs(context, size, () => [ROOM]));
      // Whatever did not connect was refused, with or without an error to show for it.
      if (batch.ok < size && firstRefusalAfter === null) {
        firstRefusalAfter = connected;
        firstError = batch.errors[0] ?? 'no error reported';
      }
      connected += batch.ok;
      refused += size - batch.ok;
      opened += size;
      context.note(`${connected} connected${refused > 0 ? `, ${refused} refused` : ''}`);
    }
    const connectMs = nowMs() - started;
    const nodesAfter = sum(await rssOf(context));
    const nginxAfter = await nginxRss();
    const perConnection = (before: number | undefined, after: number | undefined) =>
      before === undefined || after === undefined || connected === 0
        ? null
        : round((after - before) / connected / 1000, 1);
    const seen = target.servers.length > 0;
    let fanout: Measurement | null = null;
    let fanoutError: string | null = null;
    if (connected > 0) {
      context.note(`${connected} clients × ${RATE} msg/s`);
      try {
        const publisher = await PacedPublisher.connect(target);
        try {
          fanout = await measure(
            context,
            publisher,
            RATE,
            options.duration * 1000,
            () => (target.protocol === 'ws' ? null : ROOM),
            () => connected,
          );
        } finally {
          publisher.close();
        }
      } catch (error) {
        // Past the front's capacity the publisher may not get in either: the crowd's figures stand.
        fanoutError = error instanceof Error ? error.message : String(error);
      }
    }
    return {
      clients: count,
      connected,
      refused,
      firstRefusalAfter,
      firstError,
      connectsPerSec: round((connected / connectMs) * 1000, 0),
      nodesPerConnectionKB: seen ? perConnection(nodesBefore, nodesAfter) : null,
      nginxPerConnectionKB: perConnection(nginxBefore, nginxAfter),
      nodesMiB: seen ? round(nodesAfter / 2 ** 20, 1) : null,
      nginxMiB: nginxAfter === undefined ? null : round(nginxAfter / 2 ** 20, 1),
      fanout,
      fanoutError,
    };
  } finally {
    await generator.closeClients();
  }
}
