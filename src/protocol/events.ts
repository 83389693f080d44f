import type { PublishAck, RoomAck } from './ack.js';
import type { Envelope } from './envelope.js';
import type { PublishRequest } from './publish-request.js';

/** Sent by the server once, right after a connection is established. */
export interface Welcome {
  /** The id of the node this connection is served by. */
  node: string;
  /** The Socket.IO socket id of this connection. */
  sid: string;
}

/**
 * Events the server emits to clients. Published messages arrive under the event name they were
 * published with (`message` by default); {@link EnvelopeEvents} types those.
 */
export interface ServerToClientEvents {
  welcome: (welcome: Welcome) => void;
  message: (envelope: Envelope) => void;
}

/** Any application event carrying an {@link Envelope}. */
export type EnvelopeEvents = Record<string, (envelope: Envelope) => void>;

/** Events a client may emit; each takes an acknowledgement callback. */
export interface ClientToServerEvents {
  subscribe: (room: string, ack: (result: RoomAck) => void) => void;
  unsubscribe: (room: string, ack: (result: RoomAck) => void) => void;
  publish: (request: PublishRequest, ack: (result: PublishAck) => void) => void;
}

/** The client-to-server event names, for rejecting anything else with `unknown_event`. */
export const CLIENT_EVENT_NAMES: ReadonlySet<string> = new Set<keyof ClientToServerEvents>([
  'subscribe',
  'unsubscribe',
  'publish',
]);
