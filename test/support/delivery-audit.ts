import { expect } from 'vitest';
import type { PushClient } from '../../src/client/index.js';
import { PushPublisher } from '../../src/publisher/index.js';
import { sleep } from './wait.js';

/** What one client of the client library saw of a room while the cluster was hurt. */
export interface Observed {
  client: PushClient;
  /** Offsets in the order the application saw them. */
  offsets: number[];
  /** The publisher's sequence numbers (the messages' data), in the same order. */
  seqs: number[];
  nodes: Set<string>;
  /** How long each reconnect took, from the loss to the new welcome, ms. */
  reconnects: number[];
  /** Rooms the client was told it could not recover (after a reconnect, or a gap). */
  notRecovered: number;
  /** Gaps the client found in a room's offsets while connected, and recovered. */
  gaps: number;
}

/** Records what `client` delivers to the application and what it says about its connection. */
export function observe(client: PushClient): Observed {
  const observed: Observed = {
    client,
    offsets: [],
    seqs: [],
    nodes: new Set(),
    reconnects: [],
    notRecovered: 0,
    gaps: 0,
  };
  client.on('message', (envelope) => {
    observed.offsets.push(envelope.offset ?? -1);
    observed.seqs.push(typeof envelope.data === 'number' ? envelope.data : -1);
  });
  let lostAt: number | undefined;
  client.onStatus((_status, change) => {
    if (change.kind === 'disconnected' && lostAt === undefined) lostAt = Date.now();
    if (change.kind === 'resubscribed') observed.notRecovered += change.notRecovered.length;
    if (change.kind === 'gap') {
      if (change.recovered) observed.gaps++;
      else observed.notRecovered++;
    }
    if (change.kind === 'connected') {
      observed.nodes.add(change.node);
      if (lostAt !== undefined) observed.reconnects.push(Date.now() - lostAt);
      lostAt = undefined;
    }
  });
  return observed;
}

/** What a {@link publishing} stream ended with. */
export interface Published {
  /** Offsets of the accepted messages, ascending. */
  accepted: number[];
  /** Sequence numbers of refused publishes (never sent again: nobody may receive them). */
  refused: Set<number>;
  /** Sequence numbers whose outcome stayed unknown. */
  unknown: Set<number>;
  /** Attempts repeated, and how many of those found their message already published. */
  retries: { made: number; foundPublished: number };
}

/**
 * Publishes to `room` at `rate` msgs/s through `url` until `stop()` with the project's backend
 * publisher (`PushPublisher`): each message (its data a sequence number) under its idempotency
 * key, sent again while its outcome is unknown (nginx's 502 when the node died with the request,
 * a node's 503 when it lost Redis with the append on its way, no answer) or the cluster is busy,
 * for `retryForMs`.
 */
export function publishing(options: {
  url: string;
  apiKey: string;
  room: string;
  rate: number;
  retryForMs: number;
}) {
  const { url, apiKey, room, rate, retryForMs } = options;
  let running = true;
  const accepted: number[] = [];
  const refused = new Set<number>();
  const unknown = new Set<number>();
  const retries = { made: 0, foundPublished: 0 };
  const publisher = new PushPublisher(url, {
    apiKey,
    retryForMs,
    requestTimeoutMs: 15_000,
    backoffBaseMs: 250,
    backoffMaxMs: 1000,
  });
  const send = async (seq: number) => {
    const outcome = await publisher.publish({ room, data: seq, idempotencyKey: `seq-${seq}` });
    retries.made += outcome.attempts - 1;
    if (outcome.status === 'published' && outcome.receipt.offset !== undefined) {
      accepted.push(outcome.receipt.offset);
      if (outcome.receipt.duplicate === true) retries.foundPublished++;
    } else if (outcome.status === 'unknown') {
      unknown.add(seq);
    } else {
      refused.add(seq);
    }
  };
  const done = (async () => {
    const pending: Promise<void>[] = [];
    const started = Date.now();
    for (let seq = 0; running; seq++) {
      const wait = started + (seq * 1000) / rate - Date.now();
      if (wait > 0) await sleep(wait);
      pending.push(send(seq));
    }
    await Promise.all(pending);
  })();
  return {
    async stop(): Promise<Published> {
      running = false;
      await done;
      return { accepted: accepted.sort((a, b) => a - b), refused, unknown, retries };
    },
  };
}

/** Whether `observed` has every accepted offset. */
export function caughtUp(observed: Observed, accepted: readonly number[]): boolean {
  const seen = new Set(observed.offsets);
  return accepted.every((offset) => seen.has(offset));
}

/**
 * Accounts for every client against what was published, prints the figures (and `extra`) under
 * `name`, and
 * asserts that nothing was lost, doubled, reordered, misdelivered or left in doubt, and that
 * every client is connected.
 */
export function auditDeliveries(
  name: string,
  observed: readonly Observed[],
  published: Published,
  extra: Record<string, number> = {},
) {
  const { accepted, refused, unknown, retries } = published;
  const rows = observed.map((o) => {
    const seen = new Set(o.offsets);
    return {
      lost: accepted.filter((offset) => !seen.has(offset)).length,
      duplicated: o.offsets.length - seen.size,
      // The same message published twice (two offsets): what idempotency keys prevent.
      repeated: o.seqs.length - new Set(o.seqs).size,
      outOfOrder: o.offsets.filter((offset, i) => i > 0 && offset < (o.offsets[i - 1] ?? 0)).length,
      // A refused publish must never reach anyone.
      foreign: o.seqs.filter((seq) => refused.has(seq) || seq < 0).length,
      notRecovered: o.notRecovered,
      connected: o.client.status.state === 'connected',
    };
  });
  const reconnects = observed.flatMap((o) => o.reconnects).sort((a, b) => a - b);
  const sum = (
    key: 'lost' | 'duplicated' | 'repeated' | 'outOfOrder' | 'foreign' | 'notRecovered',
  ) => rows.reduce((total, row) => total + row[key], 0);
  const figures = {
    accepted: accepted.length,
    refused: refused.size,
    unknown: unknown.size,
    retried: retries.made,
    retriesFoundPublished: retries.foundPublished,
    clients: observed.length,
    deliveries: accepted.length * observed.length,
    lost: sum('lost'),
    duplicated: sum('duplicated'),
    repeated: sum('repeated'),
    outOfOrder: sum('outOfOrder'),
    notRecovered: sum('notRecovered'),
    gapsRecovered: observed.reduce((total, o) => total + o.gaps, 0),
    notConnected: rows.filter((row) => !row.connected).length,
    reconnected: reconnects.length,
    reconnectP50Ms: reconnects[Math.floor(reconnects.length / 2)] ?? null,
    reconnectMaxMs: reconnects.at(-1) ?? null,
    ...extra,
  };
  console.log(`${name}: ${JSON.stringify(figures)}`);
  expect(rows).toEqual(
    rows.map(() => ({
      lost: 0,
      duplicated: 0,
      repeated: 0,
      outOfOrder: 0,
      foreign: 0,
      notRecovered: 0,
      connected: true,
    })),
  );
  // Every publish ended accepted or refused: retried with its key, none stayed in doubt.
  expect(unknown.size).toBe(0);
  return figures;
}
