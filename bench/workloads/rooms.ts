import { readNodeMetrics } from '../targets/node-metrics.js';
import type { ServerProcess } from '../targets/target.js';
import { type Measurement, measure, withSubscribersAndPublisher } from './measure.js';
import { clientSpecs, type WorkloadContext } from './workload-context.js';

/** Rooms: many small rooms (2–10 members each), publishes to a random room each. */
export interface RoomsResult extends Measurement {
  rooms: number;
  clients: number;
  memberships: number;
  /**
   * What each node received from Redis during the run, as a share of the messages published,
   * next to its own share: the rooms with members on it. Empty for targets without node metrics.
   */
  feed: NodeFeed[];
}

/** One node's room traffic from Redis in the rooms workload. */
export interface NodeFeed {
  node: string;
  /** Room messages it received from the room log, over those published. */
  receivedShare: number;
  /** Rooms with members on it, over all the workload's rooms. */
  roomsShare: number;
}

const FEED = 'push_room_feed_messages_total';
const ROOMS = 'push_rooms';

/** Every node's feed counter (and rooms gauge) now. */
function feedCounts(servers: ServerProcess[]) {
  return Promise.all(servers.map((server) => readNodeMetrics(server, [FEED, ROOMS])));
}

/** A small deterministic PRNG (mulberry32), so every run builds the same rooms. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs the rooms workload; `undefined` for targets without rooms (ws-raw). */
export async function rooms(context: WorkloadContext): Promise<RoomsResult | undefined> {
  const { target, options } = context;
  if (target.protocol === 'ws') return undefined;
  const next = random(42);
  const members = new Map<string, number>();
  const roomsOfClient: string[][] = Array.from({ length: options.clients }, () => []);
  for (let r = 0; r < options.rooms; r++) {
    const room = `room-${r}`;
    const size = Math.min(options.clients, 2 + Math.floor(next() * 9));
    const chosen = new Set<number>();
    while (chosen.size < size) chosen.add(Math.floor(next() * options.clients));
    for (const client of chosen) roomsOfClient[client]?.push(room);
    members.set(room, size);
  }
  const memberships = [...members.values()].reduce((sum, size) => sum + size, 0);
  const specs = await clientSpecs(context, options.clients, (index) => roomsOfClient[index] ?? []);
  const pick = random(7);
  return withSubscribersAndPublisher(context, specs, async (publisher) => {
    const before = await feedCounts(target.servers);
    const result = await measure(
      context,
      publisher,
      options.roomRate,
      options.duration * 1000,
      () => `room-${Math.floor(pick() * options.rooms)}`,
      (room) => (room === null ? options.clients : (members.get(room) ?? 0)),
    );
    const after = await feedCounts(target.servers);
    const feed = target.servers.flatMap((server, index): NodeFeed[] => {
      const [start, end] = [before[index], after[index]];
      if (start === undefined || end === undefined || result.messages === 0) return [];
      return [
        {
          node: server.name,
          receivedShare: ((end[FEED] ?? 0) - (start[FEED] ?? 0)) / result.messages,
          roomsShare: (end[ROOMS] ?? 0) / options.rooms,
        },
      ];
    });
    return { ...result, rooms: options.rooms, clients: options.clients, memberships, feed };
  });
}
