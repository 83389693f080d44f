import express, { type Express } from 'express';
import helmet from 'helmet';
import type { ClusterLink } from '../cluster/cluster-link.js';
import type { Config } from '../config/config.js';
import type { Publisher } from '../delivery/publisher.js';
import type { Logger } from '../observability/logger.js';
import { requireApiKey } from './api-key-middleware.js';
import { cors } from './cors.js';
import { errorHandler, notFound } from './error-handler.js';
import { healthRoutes } from './health-routes.js';
import { publishRoute } from './publish-route.js';
import { webAssets } from './web-assets.js';

/** What the HTTP application is built from. */
export interface HttpAppDeps {
  config: Config;
  publisher: Publisher;
  link: ClusterLink;
  logger: Logger;
  isShuttingDown: () => boolean;
}

/** The node's express application: health, readiness, the publish API and the demo page. */
export function createHttpApp({
  config,
  publisher,
  link,
  logger,
  isShuttingDown,
}: HttpAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Security headers on every answer; the demo page sets its own, stricter, CSP (web-assets.ts).
  app.use(helmet({ contentSecurityPolicy: false }));
  app.use(cors(config.corsOrigins));
  app.use(healthRoutes({ nodeId: config.nodeId, link, isShuttingDown }));
  app.use(
    publishRoute({
      publisher,
      authorize: requireApiKey({
        keys: config.publishApiKeys,
        ratePerSecond: config.limits.publishApiRate,
        link,
      }),
      maxPayloadBytes: config.maxPayloadBytes,
    }),
  );
  app.use(webAssets());
  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}
