import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../protocol/index.js';

/** The node's Socket.IO server, typed with the protocol's events. */
export type PushIo = Server<ClientToServerEvents, ServerToClientEvents>;

/** One client connection, typed with the protocol's events. */
export type PushSocket = Socket<ClientToServerEvents, ServerToClientEvents>;
