import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { PushClient } from '../../src/client/index.js';
import { keySlot } from '../../src/cluster/redis/key-slot.js';
import { roomLogKey } from '../../src/cluster/redis/redis-keys.js';
import { settle } from './test-client.js';
import { sleep, waitFor } from './wait.js';

/** A Redis Cluster as a failover test drives it: who is master of a slot, and a kill. */
export interface FailoverTarget {
  /** The name of the master of `slot` now; throws (or names the dead one) while there is none. */
  masterOf(slot: number): Promise<string>;
  /** Kills the master called `name` (SIGKILL). */
  kill(name: string): Promise<void>;
}

/** What a failover under a stream of messages took. */
export interface FailoverOutcome {
  /** From the kill until another master owned the killed shard's slot, ms. */
  promotedAfterMs: number;
  /** From the kill until a publish to the killed shard (sent after the kill) was accepted, ms. */
  resumedAfterMs: number;
  /** Messages published in all. */
  messages: number;
  /** Rooms a client was told it could not recover (its history did not cover the gap). */
  told: number;
}

/** 100 msgs/s: one publish every 10 ms. */
const PUBLISH_EVERY_MS = 10;
/** Each message is sent again under its key until accepted, for at most this long. */
const PUBLISH_DEADLINE_MS = 120_000;
/** Promotion takes the cluster's node timeout and an election; generous for a slow machine. */
const FAILOVER_MS = 60_000;

/**
 * Streams 100 msgs/s over `rooms` (each message with its own idempotency key, sent again until
 * accepted) to `clients` subscribed to every room, kills the master of the first room's shard,
 * and asserts the outcome: every client has every accepted message of every room exactly once,
 * or was told that room could not be recovered. Returns what it measured.
 *
 * @param publish - sends one message; any status but 202 (or a throw) means "send it again".
 */
export async function streamThroughFailover(options: {
  rooms: readonly string[];
  clients: readonly PushClient[];
  publish: (data: number, body: Record<string, unknown>) => Promise<Response>;
  target: FailoverTarget;
}): Promise<FailoverOutcome> {
  const { rooms, clients, publish, target } = options;
  const victimRoom = rooms[0] as string;
  type Seen = { data: number[]; told: boolean };
  const watchers = await Promise.all(
    clients.map(async (client) => {
      const seen = new Map<string, Seen>(rooms.map((room) => [room, { data: [], told: false }]));
      client.on('m', (envelope) => {
        if (envelope.room !== undefined && envelope.room !== null) {
          seen.get(envelope.room)?.data.push(envelope.data as number);
        }
      });
      client.onStatus((_, change) => {
        if (change.kind === 'gap' && !change.recovered) {
          const entry = seen.get(change.room);
          if (entry) entry.told = true;
        }
        if (change.kind === 'resubscribed') {
          for (const room of change.notRecovered) {
            const entry = seen.get(room);
            if (entry) entry.told = true;
          }
        }
      });
      for (const room of rooms) await client.subscribe(room);
      return seen;
    }),
  );

  const published = new Map<string, number[]>(rooms.map((room) => [room, []]));
  let stop = false;
  let seq = 0;
  let killedAt = Number.POSITIVE_INFINITY;
  let resumedAt: number | undefined;
  const inFlight = new Set<Promise<void>>();
  const publishOne = async (room: string, data: number) => {
    const key = randomUUID();
    const sentAt = Date.now();
    while (Date.now() < sentAt + PUBLISH_DEADLINE_MS) {
      const response = await publish(data, { room, event: 'm', data, idempotencyKey: key }).catch(
        () => undefined,
      );
      if (response?.status === 202) {
        published.get(room)?.push(data);
        if (room === victimRoom && sentAt > killedAt) resumedAt ??= Date.now();
        return;
      }
      await sleep(200);
    }
    throw new Error(`${room} ${data} never accepted`);
  };
  const stream = (async () => {
    while (!stop) {
      const data = ++seq;
      const sending = publishOne(rooms[data % rooms.length] as string, data);
      inFlight.add(sending);
      void sending.finally(() => inFlight.delete(sending));
      await sleep(PUBLISH_EVERY_MS);
    }
  })();

  await sleep(2000);
  const slot = keySlot(roomLogKey(victimRoom));
  const victim = await target.masterOf(slot);
  await target.kill(victim);
  // From the moment it is gone (stopping the container takes a moment).
  killedAt = Date.now();
  await waitFor(async () => (await target.masterOf(slot).catch(() => victim)) !== victim, {
    timeoutMs: FAILOVER_MS,
    intervalMs: 200,
    what: 'a replica promoted',
  });
  const promotedAfterMs = Date.now() - killedAt;
  await waitFor(() => resumedAt !== undefined, {
    timeoutMs: FAILOVER_MS,
    what: `a publish to ${victimRoom} sent after the kill accepted`,
  });
  const resumedAfterMs = (resumedAt as number) - killedAt;
  await sleep(3000);
  stop = true;
  await stream;
  await Promise.all([...inFlight]);

  // Every client gets every room's messages, or was told.
  const complete = () =>
    watchers.every((seen) =>
      rooms.every((room) => {
        const entry = seen.get(room) as Seen;
        return entry.told || entry.data.length >= (published.get(room) as number[]).length;
      }),
    );
  await waitFor(complete, { timeoutMs: 60_000, what: 'every client caught up' }).catch((error) => {
    const behind = watchers.flatMap((seen, client) =>
      rooms.flatMap((room) => {
        const entry = seen.get(room) as Seen;
        const sent = (published.get(room) as number[]).length;
        return entry.told || entry.data.length >= sent
          ? []
          : [`client ${client} ${room}: ${entry.data.length} of ${sent}`];
      }),
    );
    throw new Error(`${(error as Error).message}; behind: ${behind.join(', ')}`);
  });
  await settle(1000);
  let told = 0;
  for (const seen of watchers) {
    for (const room of rooms) {
      const entry = seen.get(room) as Seen;
      if (entry.told) {
        told += 1;
        continue;
      }
      expect(new Set(entry.data).size, `${room}: duplicates`).toBe(entry.data.length);
      expect(
        [...entry.data].sort((x, y) => x - y),
        `${room}: lost`,
      ).toEqual([...(published.get(room) as number[])].sort((x, y) => x - y));
    }
  }
  return { promotedAfterMs, resumedAfterMs, messages: seq, told };
}
