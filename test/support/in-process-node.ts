import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { createPushServer, type PushServer } from '../../src/server.js';
import { TEST_JWT_SECRET } from './tokens.js';

/** A node started in this process, with its URL. */
export interface InProcessNode {
  id: string;
  url: string;
  server: PushServer;
}

/**
 * Starts a node in this process on a free loopback port, configured through the same
 * environment validation as the real entry point: by default with the test suites' token secret
 * ({@link TEST_JWT_SECRET}) and guests allowed; `env` overrides.
 */
export async function startInProcessNode(env: Record<string, string>): Promise<InProcessNode> {
  const result = loadConfig({
    PORT: '0',
    LOG_LEVEL: 'silent',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    ALLOW_GUESTS: 'true',
    // As docker-compose.yml: guests read any plain room (with a token key, the default is none).
    GUEST_ROOMS: '*',
    ...env,
  });
  if (!result.ok) throw new Error(`bad test config: ${result.problems.join('; ')}`);
  const server = createPushServer(result.config, createLogger(result.config.nodeId, 'silent'));
  const port = await server.listen('127.0.0.1').catch(async (error: unknown) => {
    // Its Redis connections would otherwise outlive the failed start.
    await server.close();
    throw error;
  });
  return { id: result.config.nodeId, url: `http://127.0.0.1:${port}`, server };
}
