import type { PresenceAck, PublishAck, RefreshAck, RoomAck } from './ack.js';
import type { Envelope, RoomPosition } from './envelope.js';
import type { ErrorCode, ProtocolError } from './error-code.js';
import type { PublishRequest } from './publish-request.js';

/** Sent by the server once, right after a connection is established. */
export interface Welcome {
  /** The id of the node this connection is served by. */
  node: string;
  /** The Socket.IO socket id of this connection. */
  sid: string;
  /** The connection's user id: the token's `sub`, or `guest-…` for a guest. */
  user: string;
  /** True for a guest (no token): guest permissions only. */
  guest: boolean;
  /**
   * The connection's event budget (`CLIENT_EVENT_RATE` per second, `CLIENT_EVENT_BURST` at once):
   * a client that sends more is refused, then cut off. The client library paces its own
   * subscribes (e.g. rejoining many rooms after a reconnect) within it. (Absent from a node that
   * does not say: assume the defaults, 20 and 50.)
   */
  events?: { rate: number; burst: number };
  /**
   * The answers to the rooms the connection asked for in its handshake (`auth.rooms`), in the
   * order asked, each as a `subscribe` would have been answered (with `since`: replayed in the
   * answer's `messages`). Absent from a node that does not join rooms at the handshake: the
   * client then subscribes as usual.
   */
  joined?: HandshakeJoin[];
}

/** A room a connection asks to join in its handshake, `since` where it left it (if anywhere). */
export interface HandshakeRoom {
  room: string;
  since?: RoomPosition;
}

/** How joining a room asked for in the handshake went. */
export interface HandshakeJoin {
  room: string;
  ack: RoomAck;
}

/**
 * What a client sends in its handshake (Socket.IO's `auth`): its token, and the rooms to join
 * before it is welcomed (at most `MAX_HANDSHAKE_ROOMS`; more are subscribed as usual). A
 * reconnecting client gets what it missed with its `welcome`, without a round trip of its own.
 */
export interface HandshakeAuth {
  token?: string;
  rooms?: HandshakeRoom[];
}

/** Sent to a presence room's members when a user arrives (first connection) or leaves (last). */
export interface PresenceEvent {
  room: string;
  user: string;
  action: 'join' | 'leave';
}

/**
 * Sent when the server takes a connection out of a room it had joined: `forbidden` when a
 * refreshed token no longer allows the room. No more of the room's messages follow.
 */
export interface Unsubscribed {
  room: string;
  code: ErrorCode;
  message: string;
}

/**
 * Published messages: each arrives under the event name it was published with (`message` by
 * default), chosen at run time by the publisher, and always carries an {@link Envelope}.
 */
export type EnvelopeEvents = Record<string, (envelope: Envelope) => void>;

/**
 * Events the server emits to clients: `welcome`, `goodbye` (why the server is about to close the
 * connection: `token_expired`, `rate_limited`, `slow_consumer`, …), `presence` (someone arrived
 * in or left a presence room), `unsubscribed` (the server took the connection out of a room), and
 * any published event name carrying an envelope. (Those four are reserved event names: no
 * published message can take their place.)
 *
 * The intersection is written envelope-events-first so that `welcome` keeps its own payload type
 * where Socket.IO looks up an event's parameters.
 */
export type ServerToClientEvents = EnvelopeEvents & {
  welcome: (welcome: Welcome) => void;
  goodbye: (reason: ProtocolError) => void;
  presence: (change: PresenceEvent) => void;
  unsubscribed: (notice: Unsubscribed) => void;
};

/**
 * How a client subscribes: `since` where it left the room, to get what it missed first; with
 * `batch`, what it missed comes in the acknowledgement's `messages` (one packet) rather than as
 * one event per message before it.
 */
export interface SubscribeOptions {
  since?: RoomPosition;
  batch?: boolean;
}

/** Events a client may emit; each takes an acknowledgement callback. */
export interface ClientToServerEvents {
  subscribe: (
    room: string,
    ...rest:
      | [ack: (result: RoomAck) => void]
      | [options: SubscribeOptions, ack: (result: RoomAck) => void]
  ) => void;
  unsubscribe: (room: string, ack: (result: RoomAck) => void) => void;
  publish: (request: PublishRequest, ack: (result: PublishAck) => void) => void;
  /** Who is in a presence room. */
  presence: (room: string, ack: (result: PresenceAck) => void) => void;
  /** A fresh token for the same user, before the current one expires. */
  refresh: (token: string, ack: (result: RefreshAck) => void) => void;
}

/** The client-to-server event names, for rejecting anything else with `unknown_event`. */
export const CLIENT_EVENT_NAMES: ReadonlySet<string> = new Set<keyof ClientToServerEvents>([
  'subscribe',
  'unsubscribe',
  'publish',
  'presence',
  'refresh',
]);
