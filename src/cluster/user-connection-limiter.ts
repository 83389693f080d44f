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
