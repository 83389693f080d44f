import type { Broadcaster } from '../delivery/broadcaster.js';
import type { PushIo } from './push-io.js';
import { roomKey } from './room-key.js';

/** Broadcasts through the node's Socket.IO server, whose adapter reaches the other nodes. */
export function socketBroadcaster(io: PushIo): Broadcaster {
  return {
    broadcast(room, event, envelope) {
      (room === null ? io : io.to(roomKey(room))).emit(event, envelope);
    },
  };
}
