import type { Broadcaster } from '../delivery/broadcaster.js';
import type { PushIo } from './push-io.js';

/** Broadcasts to everyone through the node's Socket.IO server, whose adapter reaches the other nodes. */
export function socketBroadcaster(io: PushIo): Broadcaster {
  return {
    broadcast(event, envelope) {
      io.emit(event, envelope);
    },
  };
}
