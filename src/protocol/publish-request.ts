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
}

/** The event name used when a publish request names none. */
export const DEFAULT_EVENT = 'message';
