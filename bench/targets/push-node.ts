import { join } from 'node:path';
import { REPO_ROOT } from '../../test/support/repo.js';
import { httpOk, LocalProcess } from './local-process.js';

/** The built entry point (`npm run build`), as the image runs it. */
const MAIN = join(REPO_ROOT, 'dist', 'main.js');

/** A push node on 127.0.0.1:`port`, started from the built code and ready (`/readyz` 200). */
export async function startPushNode(
  nodeId: string,
  port: number,
  env: Record<string, string> = {},
): Promise<LocalProcess> {
  const node = LocalProcess.start(nodeId, process.execPath, [MAIN], {
    NODE_ENV: 'production',
    NODE_ID: nodeId,
    PORT: String(port),
    PUBLISH_API_KEY: 'benchmark-publish-key',
    LOG_LEVEL: 'warn',
    ...env,
  });
  await node.waitUntil('/readyz 200', () => httpOk(`http://127.0.0.1:${port}/readyz`));
  return node;
}
