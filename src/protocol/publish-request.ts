/** What a client (socket `publish` or `POST /api/publish`) asks the cluster to deliver. */
export interface PublishRequest<T = unknown> {
  /** Target room; omitted (or `null`), with no `user`, to send to every connected client. */
  room?: string | null;
  /** Target user: every connection of that user, on every node (their room `user:<id>`). */
  user?: string;
  /** Event name the subscribers receive; defaults to {@link DEFAULT_EVENT}. */
  event?: string;
  /** The application payload; any JSON value, required. */
  data: T;
  /**
   * For a room or user message: a retry with the same key within `IDEMPOTENCY_WINDOW_SECONDS`
   * (10 minutes) is not published again, and is answered with the first publish's id and offset
   * (`duplicate: true`).
   */
  idempotencyKey?: string;
}

/** The event name used when a publish request names none. */
export const DEFAULT_EVENT = 'message';
