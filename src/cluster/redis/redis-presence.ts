import type { Logger } from '../../observability/logger.js';
import type { Presence, PresenceChange } from '../presence.js';
import type { NodeLiveness } from './node-liveness.js';
import type { RedisClient } from './redis-client.js';
import { PRESENCE_ROOMS_KEY, presenceInstancesKey, presenceUsersKey } from './redis-keys.js';

/** KEYS: users, instances. ARGV: `instance|user`, user. Returns the user's count. */
const JOIN = `
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
`;

/**
 * KEYS: users, instances. ARGV: `instance|user`, user. Returns `[left, empty]`: the user's count
 * left (0: gone) and 1 when the room has no entry left. An entry the reaper already removed
 * (this instance was thought dead) changes nothing.
 */
const LEAVE = `
local mine = redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
if mine <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
local empty = redis.call('EXISTS', KEYS[2]) == 0 and 1 or 0
if mine < 0 then return {1, empty} end
local left = redis.call('HINCRBY', KEYS[1], ARGV[2], -1)
if left <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[2])
  return {0, empty}
end
return {left, empty}
`;

/**
 * KEYS: users, instances (of one room). ARGV: the dead instances. Removes their entries and
 * returns `[left, empty]`: the users that left with them, and 1 when the room has no entry left.
 */
const REAP_ROOM = `
local dead = {}
for i = 1, #ARGV do dead[ARGV[i]] = true end
local leaves = {}
local fields = redis.call('HGETALL', KEYS[2])
for i = 1, #fields, 2 do
  local field = fields[i]
  local bar = string.find(field, '|', 1, true)
  if bar and dead[string.sub(field, 1, bar - 1)] then
    local user = string.sub(field, bar + 1)
    redis.call('HDEL', KEYS[2], field)
    local left = redis.call('HINCRBY', KEYS[1], user, -tonumber(fields[i + 1]))
    if left <= 0 then
      redis.call('HDEL', KEYS[1], user)
      table.insert(leaves, user)
    end
  end
end
return {leaves, redis.call('EXISTS', KEYS[2]) == 0 and 1 or 0}
`;

/**
 * Presence in Redis. Each user's connections are counted per room twice: in total (who is in the
 * room) and per node instance, so that when a node dies without saying so its users' counts are
 * taken back by the others: every node, when it learns of an instance newly dead (its liveness
 * ran out 10 s after its last heartbeat, or it stopped), removes that instance's entries from
 * every presence room and announces who left. A room's keys share its slot; the set of rooms
 * with entries is a key of its own, added to after a join and pruned by the reaper.
 */
export class RedisPresence implements Presence {
  private readonly listeners: Array<(change: PresenceChange) => void> = [];
  private closed = false;
  /** The dead instances whose entries this node has removed everywhere. */
  private reaped = new Set<string>();
  private reaping = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly liveness: NodeLiveness,
    private readonly logger: Logger,
  ) {
    // At every heartbeat (3 s), when it names an instance newly dead.
    liveness.onHeartbeat(() => void this.reap());
  }

  /** Removes the entries of instances newly known dead from every room; announces who left. */
  private async reap(): Promise<void> {
    const dead = this.liveness.dead;
    if (this.closed || this.reaping || this.redis.status !== 'ready') return;
    if (dead.every((instance) => this.reaped.has(instance))) return;
    this.reaping = true;
    try {
      for (const room of await this.redis.smembers(PRESENCE_ROOMS_KEY)) {
        const [users, empty] = (await this.redis.eval(
          REAP_ROOM,
          2,
          presenceUsersKey(room),
          presenceInstancesKey(room),
          ...dead,
        )) as [string[], number];
        for (const user of users) {
          const change: PresenceChange = { room, user, action: 'leave' };
          for (const listener of this.listeners) listener(change);
        }
        if (empty === 1) await this.prune(room);
      }
      this.reaped = new Set(dead);
    } catch (error) {
      this.logger.warn({ err: error }, 'presence reaping failed');
    } finally {
      this.reaping = false;
    }
  }

  /**
   * Drops a room without entries from the set of rooms, and puts it back if a join came
   * meanwhile (a join adds the room after its entry: whichever order they run in, a room with
   * entries stays in the set).
   */
  private async prune(room: string): Promise<void> {
    await this.redis.srem(PRESENCE_ROOMS_KEY, room);
    if ((await this.redis.exists(presenceInstancesKey(room))) === 1) {
      await this.redis.sadd(PRESENCE_ROOMS_KEY, room);
    }
  }

  async join(room: string, user: string): Promise<boolean> {
    const count = await this.redis.eval(
      JOIN,
      2,
      presenceUsersKey(room),
      presenceInstancesKey(room),
      `${this.liveness.instance}|${user}`,
      user,
    );
    // After the entry: see prune().
    await this.redis.sadd(PRESENCE_ROOMS_KEY, room);
    return count === 1;
  }

  async leave(room: string, user: string): Promise<boolean> {
    const [left, empty] = (await this.redis.eval(
      LEAVE,
      2,
      presenceUsersKey(room),
      presenceInstancesKey(room),
      `${this.liveness.instance}|${user}`,
      user,
    )) as [number, number];
    if (empty === 1) await this.prune(room);
    return left === 0;
  }

  async members(room: string): Promise<string[]> {
    return this.redis.hkeys(presenceUsersKey(room));
  }

  onReaped(listener: (change: PresenceChange) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
