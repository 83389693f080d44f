import type { Server } from 'socket.io';
import type { ClusterLink } from './cluster-link.js';

/** The embedded default: one node, Socket.IO's in-memory adapter, always ready. */
export class MemoryLink implements ClusterLink {
  readonly kind = 'memory';
  readonly redis = undefined;

  attach(_io: Server): void {
    // The in-memory adapter is Socket.IO's default: nothing to install.
  }

  isReady(): boolean {
    return true;
  }

  status(): string {
    return 'ready';
  }

  async close(): Promise<void> {}
}
