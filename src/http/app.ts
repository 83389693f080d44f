import express, { type Express } from 'express';
import helmet from 'helmet';
import type { RoomPatterns } from '../auth/room-pattern.js';
import type { ClusterReadiness } from '../cluster/cluster-backend.js';
import type { Presence } from '../cluster/presence.js';
import type { RateStore } from '../cluster/rate-store.js';
import type { RoomLog } from '../cluster/room-log.js';
import type { Config } from '../config/config.js';
import type { Publisher } from '../delivery/publisher.js';
import type { Logger } from '../observability/logger.js';
import type { NodeMetrics } from '../observability/metrics.js';
import {
  type AdminCredentials,
  type AdminSources,
  adminRoutes,
  requireAdmin,
} from './admin-routes.js';
import { requireApiKey } from './api-key-middleware.js';
import { cors } from './cors.js';
import { errorHandler, notFound } from './error-handler.js';
import { healthRoutes } from './health-routes.js';
import { historyRoute } from './history-route.js';
import { presenceRoute } from './presence-route.js';
import { publishRoute } from './publish-route.js';
import { requestLog } from './request-log.js';
import { webAssets } from './web-assets.js';

/** What the HTTP application is built from. */
export interface HttpAppDeps {
  config: Config;
  publisher: Publisher;
  roomLog: RoomLog;
  presence: Presence;
  /** The rooms that track presence. */
  presenceRooms: RoomPatterns;
  cluster: ClusterReadiness;
  /** Where the API keys' request rates are counted. */
  rateStore: RateStore;
  metrics: NodeMetrics;
  /** What the admin endpoints read, and who may read them on this port. */
  admin: AdminSources;
  adminCredentials: AdminCredentials;
  logger: Logger;
  isShuttingDown: () => boolean;
}

/**
 * The node's express application: health, readiness, the publish, history and presence APIs,
 * the admin endpoints (behind the admin credentials), the demo and admin pages.
 */
export function createHttpApp({
  config,
  publisher,
  roomLog,
  presence,
  presenceRooms,
  cluster,
  rateStore,
  metrics,
  admin,
  adminCredentials,
  logger,
  isShuttingDown,
}: HttpAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestLog(logger));
  // Security headers on every answer; the demo page sets its own, stricter, CSP (web-assets.ts).
  app.use(helmet({ contentSecurityPolicy: false }));
  app.use(cors(config.corsOrigins));
  app.use(healthRoutes({ nodeId: config.nodeId, cluster, isShuttingDown }));
  // One budget per API key for both APIs.
  const authorize = requireApiKey({
    keys: config.publishApiKeys,
    ratePerSecond: config.limits.publishApiRate,
    rateStore,
  });
  app.use(publishRoute({ publisher, authorize, maxPayloadBytes: config.maxPayloadBytes }));
  app.use(historyRoute({ roomLog, authorize, cluster }));
  app.use(presenceRoute({ presence, rooms: presenceRooms, authorize, cluster }));
  app.use(adminRoutes(admin, requireAdmin(adminCredentials)));
  app.use(webAssets());
  app.use(notFound);
  app.use(errorHandler(logger, metrics));
  return app;
}

/**
 * The admin port's application (`ADMIN_PORT`): the admin endpoints without a key, for a
 * Prometheus server or an operator inside the cluster's network. nginx never proxies it.
 */
export function createAdminApp(admin: AdminSources, metrics: NodeMetrics, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(helmet({ contentSecurityPolicy: false }));
  app.use(adminRoutes(admin, (_req, _res, next) => next()));
  app.use(notFound);
  app.use(errorHandler(logger, metrics));
  return app;
}
