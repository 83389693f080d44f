import type { Server } from 'socket.io';
import type { BackendOptions, ClusterBackend } from '../cluster-backend.js';
import type { NodeReports, ReportSource } from '../node-reports.js';
import { UNLIMITED_USER_CONNECTIONS } from '../user-connection-limiter.js';
import { MemoryNodeReports } from './memory-node-reports.js';
import { MemoryPresence } from './memory-presence.js';
import { MemoryRateStore } from './memory-rate-store.js';
import { MemoryRoomLog } from './memory-room-log.js';
import { memoryUserConnections } from './memory-user-connections.js';

/**
 * The embedded default: one node, everything in this process, Socket.IO's in-memory adapter,
 * always ready.
 */
export function memoryBackend(options: BackendOptions): ClusterBackend {
  const { nodeId, history, maxConnectionsPerUser } = options;
  const roomLog = new MemoryRoomLog(history);
  return {
    kind: 'memory',
    instance: `${nodeId}:local`,
    roomLog,
    presence: new MemoryPresence(),
    userConnections:
      maxConnectionsPerUser === 0
        ? UNLIMITED_USER_CONNECTIONS
        : memoryUserConnections(maxConnectionsPerUser),
    rateStore: new MemoryRateStore(),
    nodeReports: (source: ReportSource): NodeReports => new MemoryNodeReports(source),
    attach(_io: Server) {
      // The in-memory adapter is Socket.IO's default: nothing to install.
    },
    isReady: () => true,
    status: () => 'ready',
    close: () => roomLog.close(),
  };
}
