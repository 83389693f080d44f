import { loadConfig } from './config/config.js';
import { WEB_ASSETS_DIR, webAssetsBuilt } from './http/web-assets.js';
import { fitConnectionsToDescriptors, openFileLimit } from './lifecycle/descriptor-limit.js';
import { exitGracefullyOnSignals } from './lifecycle/graceful-shutdown.js';
import { applyV8Flags } from './lifecycle/v8-tuning.js';
import { createLogger } from './observability/logger.js';
import { createPushServer } from './server.js';

applyV8Flags();

const result = loadConfig(process.env);
if (!result.ok) {
  for (const problem of result.problems) process.stderr.write(`config error: ${problem}\n`);
  process.exit(1);
}
const descriptors = fitConnectionsToDescriptors(
  result.config.limits.maxConnections,
  (process.env.MAX_CONNECTIONS ?? '') !== '',
  openFileLimit(),
);
if (!descriptors.ok) {
  process.stderr.write(`config error: ${descriptors.problem}\n`);
  process.exit(1);
}
const config = {
  ...result.config,
  limits: { ...result.config.limits, maxConnections: descriptors.maxConnections },
};
const logger = createLogger(config.nodeId, config.logLevel);
if (descriptors.warning !== undefined) logger.warn(descriptors.warning);

process.on('uncaughtException', (error) => {
  logger.fatal({ err: error }, 'uncaught exception; exiting');
  process.exit(1);
});
process.on('unhandledRejection', (reason) => {
  logger.fatal({ err: reason }, 'unhandled promise rejection; exiting');
  process.exit(1);
});

const server = createPushServer(config, logger);
exitGracefullyOnSignals(() => server.drain(), logger, config.drain.timeoutMs);

if (config.publishApiKeyGenerated) {
  logger.warn(
    { publishApiKey: config.publishApiKeys[0] },
    'PUBLISH_API_KEYS is unset: generated this key for POST /api/publish (set PUBLISH_API_KEYS to choose)',
  );
}
const { auth } = config;
if (auth.development) {
  logger.warn(
    { guestRooms: auth.guestRooms, guestPublish: auth.guestPublish },
    'INSECURE DEVELOPMENT MODE: no token key is set (AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY or AUTH_JWKS_URL), so every connection is an anonymous guest; set a key and ALLOW_GUESTS=false for production',
  );
} else if (auth.allowGuests) {
  logger.warn(
    { guestRooms: auth.guestRooms, guestPublish: auth.guestPublish },
    'ALLOW_GUESTS is on: connections without a token get guest permissions',
  );
}
if (config.redisUrl === undefined && config.redisClusterNodes === undefined) {
  logger.info(
    'REDIS_URL and REDIS_CLUSTER_NODES are unset: single node with the in-memory adapter (no cluster fan-out)',
  );
}
if (!webAssetsBuilt()) {
  logger.warn(
    { dir: WEB_ASSETS_DIR },
    'browser client and demo page not built: run "npm run build" to serve them',
  );
}

try {
  const port = await server.listen();
  logger.info(
    {
      port,
      socket: config.listenSocket,
      cluster: server.backend.kind,
      maxPayloadBytes: config.maxPayloadBytes,
    },
    'push node listening',
  );
} catch (error) {
  logger.fatal({ err: error, port: config.port }, 'cannot listen');
  process.exit(1);
}
