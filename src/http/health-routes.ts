import { Router } from 'express';
import type { ClusterReadiness } from '../cluster/cluster-backend.js';

/** What the health routes report on. */
export interface HealthDeps {
  nodeId: string;
  cluster: ClusterReadiness;
  /** True once shutdown has begun: the node is alive but no longer ready. */
  isShuttingDown: () => boolean;
}

/**
 * `GET /healthz`: the process is alive (always 200 while it answers).
 * `GET /readyz`: 200 when the node can serve the cluster; 503 while Redis is configured but not
 * connected, or while the node shuts down.
 */
export function healthRoutes({ nodeId, cluster, isShuttingDown }: HealthDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', node: nodeId });
  });
  router.get('/readyz', (_req, res) => {
    const shuttingDown = isShuttingDown();
    const ready = !shuttingDown && cluster.isReady();
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'not ready',
      node: nodeId,
      cluster: cluster.kind,
      bus: shuttingDown ? 'shutting down' : cluster.status(),
    });
  });
  return router;
}
