import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../protocol/index.js';
import type { ConnectionState } from './connection-state.js';

/** Events between nodes: none (the adapter carries broadcasts). */
type InterServerEvents = Record<string, never>;

/** The node's Socket.IO server, typed with the protocol's events. */
export type PushIo = Server<
  ClientToServerEvents,
  ServerToClientEvents,
  InterServerEvents,
  ConnectionState
>;

/** One client connection, typed with the protocol's events and the node's per-connection state. */
export type PushSocket = Socket<
  ClientToServerEvents,
  ServerToClientEvents,
  InterServerEvents,
  ConnectionState
>;
