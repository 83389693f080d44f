/**
 * Every Redis key and channel the cluster uses, in one place. Names start with `push:`; the
 * keys one script touches together carry the same hash tag (`{room}`, `{user}`), so that in a
 * Redis Cluster they live in one slot. Room names are `[A-Za-z0-9:_.-]`: they never contain a
 * brace, so a room's tag is the room itself.
 */

/** A room's epoch and last offset (a hash). */
export const roomMetaKey = (room: string) => `push:room:{${room}}:meta`;
/** A room's history (a stream, entry id = offset). */
export const roomLogKey = (room: string) => `push:room:{${room}}:log`;
/** The record of an append made under a publisher's idempotency key. */
export const roomIdempotencyKey = (room: string, key: string) => `push:room:{${room}}:idem:${key}`;
/** The record of an append without a key, under the message's id (ioredis resends). */
export const roomSentKey = (room: string, id: string) => `push:room:{${room}}:sent:${id}`;
/** The channel that carries a room's messages to the nodes that follow the room. */
export const roomChannel = (room: string) => `push:room:{${room}}:messages`;

/**
 * The node instances and when their liveness runs out (a sorted set, scored by expiry on Redis's
 * clock). The `{nodes}` keys share one slot.
 */
export const NODE_LIVENESS_KEY = 'push:{nodes}:alive';

/** The rooms that have presence entries: what the reaper walks. */
export const PRESENCE_ROOMS_KEY = 'push:presence-rooms';
/** Users in a room and their connection counts (a hash). */
export const presenceUsersKey = (room: string) => `push:presence:{${room}}:users`;
/** `instance|user` → connections, per room (a hash): what a dead instance leaves behind. */
export const presenceInstancesKey = (room: string) => `push:presence:{${room}}:instances`;

/** A user's connection counts per node instance (a hash). */
export const userConnectionsKey = (user: string) => `push:user-conns:${user}`;

/** A node instance's report (JSON, expiring). */
export const nodeReportKey = (instance: string) => `push:{nodes}:report:${instance}`;
/** The node instances that filed a report. */
export const NODE_REPORTS_KEY = 'push:{nodes}:reports';

/**
 * A probe channel of a node instance: its tag picks the shard (`tag` is any string; the probe
 * finds one per shard).
 */
export const probeChannel = (tag: string, instance: string) => `push:probe:{${tag}}:${instance}`;
/** True for a probe channel (not a room's). */
export const isProbeChannel = (channel: string) => channel.startsWith('push:probe:');

/** The prefix of the API-key rate counters (`rate-limiter-flexible` adds the key's digest). */
export const API_RATE_PREFIX = 'push:api-rate';
