import { join } from 'node:path';
import { freePort } from '../shared/free-port.js';
import { inspectFlag } from '../shared/inspector.js';
import { REPO_ROOT } from '../shared/repo-root.js';
import { httpOk, LocalProcess } from './local-process.js';
import type { Target } from './target.js';

/** The `ws` baseline server (`bench/ws-raw/ws-raw-server.ts`) in its own process. */
export async function startWsRawTarget(): Promise<Target> {
  const port = await freePort();
  const inspectorPort = await freePort();
  const server = LocalProcess.start(
    'ws-raw',
    process.execPath,
    [
      inspectFlag(inspectorPort),
      '--import',
      'tsx',
      join(REPO_ROOT, 'bench', 'ws-raw', 'ws-raw-server.ts'),
    ],
    { PORT: String(port) },
  );
  await server.waitUntil('/healthz 200', () => httpOk(`http://127.0.0.1:${port}/healthz`));
  return {
    name: 'ws-raw',
    description: 'minimal ws server, one pre-encoded frame written to every socket',
    protocol: 'ws',
    url: `ws://127.0.0.1:${port}`,
    tokenSecret: undefined,
    servers: [{ name: 'ws-raw', pid: server.pid, inspectorPort }],
    infrastructure: [],
    stop: () => server.stop(),
  };
}
