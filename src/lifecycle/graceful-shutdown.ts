import type { Logger } from '../observability/logger.js';

/**
 * On SIGTERM or SIGINT, runs `close` (the node's drain) and exits 0; if that takes longer than
 * `deadlineMs` (`SHUTDOWN_TIMEOUT_MS`), or fails, exits 1. A second signal does not restart the
 * shutdown.
 */
export function exitGracefullyOnSignals(
  close: () => Promise<void>,
  logger: Logger,
  deadlineMs: number,
): void {
  let started = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (started) return;
    started = true;
    logger.info({ signal, deadlineMs }, 'shutting down');
    setTimeout(() => {
      logger.error({ deadlineMs }, 'shutdown deadline exceeded; exiting');
      process.exit(1);
    }, deadlineMs).unref();
    close().then(
      () => {
        logger.info('shutdown complete');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
