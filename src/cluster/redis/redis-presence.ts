import type { Redis } from 'ioredis';
import type { Logger } from '../../observability/logger.js';
import type { Presence, PresenceChange } from '../presence.js';
import type { NodeLiveness } from './node-liveness.js';
import {
  ALIVE_PREFIX,
  PRESENCE_PREFIX,
  PRESENCE_ROOMS_KEY,
  presenceInstancesKey,
  presenceUsersKey,
} from './redis-keys.js';

/** How often each node looks for the entries of dead node instances. */
const REAP_INTERVAL_MS = 3_000;

/** KEYS: users, instances, rooms. ARGV: `instance|user`, user, room. Returns the user's count. */
const JOIN = `
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
`;

/**
 * KEYS: users, instances. ARGV: `instance|user`, user. Returns the user's count left (0: gone).
 * An entry the reaper already removed (this instance was thought dead) changes nothing.
 */
const LEAVE = `
local mine = redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
if mine <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
if mine < 0 then return 1 end
local left = redis.call('HINCRBY', KEYS[1], ARGV[2], -1)
if left <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[2])
  return 0
end
return left
`;

/**
 * KEYS: rooms. ARGV: alive prefix, presence prefix. Removes every entry of a node instance that
 * is no longer alive, and returns the users that left with it: room, user, room, user, …
 */
const REAP = `
local leaves = {}
for _, room in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local instances = ARGV[2] .. room .. ':instances'
  local users = ARGV[2] .. room .. ':users'
  local fields = redis.call('HGETALL', instances)
  for i = 1, #fields, 2 do
    local field = fields[i]
    local bar = string.find(field, '|', 1, true)
    if bar and redis.call('EXISTS', ARGV[1] .. string.sub(field, 1, bar - 1)) == 0 then
      local user = string.sub(field, bar + 1)
      redis.call('HDEL', instances, field)
      local left = redis.call('HINCRBY', users, user, -tonumber(fields[i + 1]))
      if left <= 0 then
        redis.call('HDEL', users, user)
        table.insert(leaves, room)
        table.insert(leaves, user)
      end
    end
  end
  if redis.call('EXISTS', instances) == 0 then redis.call('SREM', KEYS[1], room) end
end
return leaves
`;

/**
 * Presence in Redis. Each user's connections are counted per room twice: in total (who is in the
 * room) and per node instance, so that when a node dies without saying so its users' counts are
 * taken back by the others: every node reaps, every 3 s, the entries of instances whose liveness
 * ran out (10 s after their last heartbeat), and announces who left.
 */
export class RedisPresence implements Presence {
  private readonly listeners: Array<(change: PresenceChange) => void> = [];
  private readonly reaper: NodeJS.Timeout;

  constructor(
    private readonly redis: Redis,
    private readonly liveness: NodeLiveness,
    logger: Logger,
  ) {
    this.reaper = setInterval(() => {
      if (redis.status !== 'ready') return;
      (
        redis.eval(REAP, 1, PRESENCE_ROOMS_KEY, ALIVE_PREFIX, PRESENCE_PREFIX) as Promise<string[]>
      ).then(
        (leaves) => {
          for (let i = 0; i + 1 < leaves.length; i += 2) {
            const change: PresenceChange = {
              room: leaves[i] as string,
              user: leaves[i + 1] as string,
              action: 'leave',
            };
            for (const listener of this.listeners) listener(change);
          }
        },
        (error: unknown) => logger.warn({ err: error }, 'presence reaping failed'),
      );
    }, REAP_INTERVAL_MS);
    this.reaper.unref();
  }

  async join(room: string, user: string): Promise<boolean> {
    const count = await this.redis.eval(
      JOIN,
      3,
      presenceUsersKey(room),
      presenceInstancesKey(room),
      PRESENCE_ROOMS_KEY,
      `${this.liveness.instance}|${user}`,
      user,
      room,
    );
    return count === 1;
  }

  async leave(room: string, user: string): Promise<boolean> {
    const left = await this.redis.eval(
      LEAVE,
      2,
      presenceUsersKey(room),
      presenceInstancesKey(room),
      `${this.liveness.instance}|${user}`,
      user,
    );
    return left === 0;
  }

  async members(room: string): Promise<string[]> {
    return this.redis.hkeys(presenceUsersKey(room));
  }

  onReaped(listener: (change: PresenceChange) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    clearInterval(this.reaper);
  }
}
