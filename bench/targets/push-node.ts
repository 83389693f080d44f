import { join } from 'node:path';
import { freePort } from '../shared/free-port.js';
import { inspectFlag } from '../shared/inspector.js';
import { REPO_ROOT } from '../shared/repo-root.js';
import { httpOk, LocalProcess } from './local-process.js';
import { BENCH_ADMIN_KEY, type ServerProcess } from './target.js';

/** The token secret of the nodes the benchmark starts: its clients carry tokens signed with it. */
export const BENCH_JWT_SECRET = 'benchmark-jwt-secret-of-at-least-32-bytes';

/** The built entry point (`npm run build`), as the image runs it. */
const MAIN = join(REPO_ROOT, 'dist', 'main.js');

/** A push node started by the benchmark. */
export interface PushNode {
  process: LocalProcess;
  /** What the workloads watch: its pid and its loopback inspector port. */
  server: ServerProcess;
}

/**
 * A push node on 127.0.0.1:`port`, started from the built code and ready (`/readyz` 200), with
 * its inspector on another loopback port (only used to force a garbage collection).
 */
export async function startPushNode(
  nodeId: string,
  port: number,
  env: Record<string, string> = {},
): Promise<PushNode> {
  const inspectorPort = await freePort();
  const node = LocalProcess.start(nodeId, process.execPath, [inspectFlag(inspectorPort), MAIN], {
    NODE_ENV: 'production',
    NODE_ID: nodeId,
    PORT: String(port),
    PUBLISH_API_KEYS: 'benchmark-publish-key',
    ADMIN_API_KEY: BENCH_ADMIN_KEY,
    LOG_LEVEL: 'warn',
    // Auth on, as in production: clients carry tokens (guests allowed, to compare).
    AUTH_JWT_SECRET: BENCH_JWT_SECRET,
    ALLOW_GUESTS: 'true',
    GUEST_ROOMS: '*',
    // The benchmark's few publishing connections each send hundreds of messages per second,
    // far above the per-connection event rate a browser needs; every connection comes from one
    // address and may number more than a node accepts by default.
    CLIENT_EVENT_RATE: '100000',
    CLIENT_EVENT_BURST: '100000',
    MAX_CONNECTIONS: '0',
    // The benchmark stops its nodes between targets: no drain to wait for.
    DRAIN_DELAY_MS: '0',
    DRAIN_SPREAD_MS: '0',
    ...env,
  });
  try {
    await node.waitUntil('/readyz 200', () => httpOk(`http://127.0.0.1:${port}/readyz`));
  } catch (error) {
    await node.stop();
    throw error;
  }
  return {
    process: node,
    server: {
      name: nodeId,
      pid: node.pid,
      inspectorPort,
      metricsUrl: `http://127.0.0.1:${port}/metrics`,
    },
  };
}
