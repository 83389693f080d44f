import type { Envelope } from '../protocol/index.js';

/**
 * What the publisher needs from the realtime layer for messages to everyone: hand an envelope to
 * every connected client on every node (at most once). Implemented over Socket.IO and its
 * cluster adapter (`realtime/socket-broadcaster.ts`). Room messages go through the room log.
 */
export interface Broadcaster {
  /** Delivers `envelope` under the event name `event` to every client. */
  broadcast(event: string, envelope: Envelope): void;
}
