import type { UserConnectionLimiter } from '../user-connection-limiter.js';

/** The single-node limiter: counts in this process. */
export function memoryUserConnections(max: number): UserConnectionLimiter {
  const counts = new Map<string, number>();
  return {
    async acquire(userId) {
      const held = counts.get(userId) ?? 0;
      if (held >= max) return false;
      counts.set(userId, held + 1);
      return true;
    },
    release(userId) {
      const held = (counts.get(userId) ?? 0) - 1;
      if (held > 0) counts.set(userId, held);
      else counts.delete(userId);
    },
    close: async () => {},
  };
}
