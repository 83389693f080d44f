import { type Measurement, measure, withSubscribersAndPublisher } from './measure.js';
import { clientSpecs, type WorkloadContext } from './workload-context.js';

/** Rooms: many small rooms (2–10 members each), publishes to a random room each. */
export interface RoomsResult extends Measurement {
  rooms: number;
  clients: number;
  memberships: number;
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
    const result = await measure(
      context,
      publisher,
      options.roomRate,
      options.duration * 1000,
      () => `room-${Math.floor(pick() * options.rooms)}`,
      (room) => (room === null ? options.clients : (members.get(room) ?? 0)),
    );
    return { ...result, rooms: options.rooms, clients: options.clients, memberships };
  });
}
