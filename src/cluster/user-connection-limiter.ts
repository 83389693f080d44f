/**
 * Counts each user's connections across the cluster, so that one user (one leaked token, one
 * runaway script) cannot hold more than `MAX_CONNECTIONS_PER_USER` of them.
 */
export interface UserConnectionLimiter {
  /**
   * Counts one more connection of `userId` if that keeps it within the limit.
   *
   * @returns false when the user already holds the maximum.
   */
  acquire(userId: string): Promise<boolean>;
  /** Counts one connection of `userId` fewer (it disconnected). */
  release(userId: string): void;
  /** Stops any background work. */
  close(): Promise<void>;
}

/** No limit (`MAX_CONNECTIONS_PER_USER=0`). */
export const UNLIMITED_USER_CONNECTIONS: UserConnectionLimiter = {
  acquire: async () => true,
  release: () => {},
  close: async () => {},
};

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
