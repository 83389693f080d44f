import type { Envelope } from '../protocol/index.js';

/**
 * What the publisher needs from the realtime layer: hand an envelope to every subscriber of a
 * room, or to every client, on every node. Implemented over Socket.IO and its cluster adapter
 * (`realtime/socket-broadcaster.ts`).
 */
export interface Broadcaster {
  /**
   * Delivers `envelope` under the event name `event`.
   *
   * @param room - the public room name, or `null` for every connected client.
   */
  broadcast(room: string | null, event: string, envelope: Envelope): void;
}
