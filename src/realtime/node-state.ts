import type { ClusterReadiness } from '../cluster/cluster-backend.js';
import type { ReportedState } from '../observability/node-reporter.js';
import type { RoomCount } from '../protocol/index.js';
import { USER_ROOM_PREFIX } from '../protocol/index.js';
import type { PushIo } from './push-io.js';
import { roomKey } from './room-key.js';

/**
 * What this node's gauges and reports read, at the moment they are read: connections, rooms
 * (each connection's own user room is not a subscription), Redis, drain.
 */
export function nodeState(
  io: PushIo,
  cluster: ClusterReadiness,
  isDraining: () => boolean,
): ReportedState {
  const prefix = roomKey('');
  const userRooms = roomKey(USER_ROOM_PREFIX);
  /** The subscriber rooms, by their Socket.IO keys, with their member counts. */
  function* subscriberRooms(): Generator<[string, number]> {
    for (const [key, members] of io.of('/').adapter.rooms) {
      if (key.startsWith(prefix) && !key.startsWith(userRooms)) yield [key, members.size];
    }
  }
  return {
    connectionsByTransport() {
      const counts: Record<string, number> = { websocket: 0, polling: 0 };
      for (const socket of io.of('/').sockets.values()) {
        const name = socket.conn.transport.name;
        counts[name] = (counts[name] ?? 0) + 1;
      }
      return counts;
    },
    rooms() {
      let rooms = 0;
      let subscriptions = 0;
      for (const [, members] of subscriberRooms()) {
        rooms++;
        subscriptions += members;
      }
      return { rooms, subscriptions };
    },
    topRooms(limit) {
      // Kept to the largest `limit` every so often: no sort of every room on a busy node.
      let kept: RoomCount[] = [];
      let count = 0;
      const byMembers = (a: RoomCount, b: RoomCount) =>
        b.members - a.members || a.room.localeCompare(b.room);
      for (const [key, members] of subscriberRooms()) {
        count++;
        kept.push({ room: key.slice(prefix.length), members });
        if (kept.length >= 2 * limit) kept = kept.sort(byMembers).slice(0, limit);
      }
      return { rooms: kept.sort(byMembers).slice(0, limit), truncated: count > limit };
    },
    redisUp: () => cluster.isReady(),
    isDraining,
  };
}
