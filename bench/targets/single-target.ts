import { freePort } from '../shared/free-port.js';
import { BENCH_JWT_SECRET, startPushNode } from './push-node.js';
import type { Target } from './target.js';

/** One node, in-memory adapter, no Redis, no nginx: what clustering costs, by comparison. */
export async function startSingleTarget(): Promise<Target> {
  const port = await freePort();
  const node = await startPushNode('single', port);
  return {
    name: 'single',
    description: '1 node, in-memory adapter, no Redis, no nginx',
    protocol: 'socket.io',
    url: `http://127.0.0.1:${port}`,
    tokenSecret: BENCH_JWT_SECRET,
    servers: [node.server],
    infrastructure: [],
    stop: () => node.process.stop(),
  };
}
