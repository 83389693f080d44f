import { pino } from 'pino';
import type { LogLevel } from '../config/config.js';

/** The structured (JSON lines) logger every component receives. */
export type Logger = pino.Logger;

/**
 * Creates the node's logger: JSON lines on stdout, each carrying the node id.
 *
 * @param nodeId - stamped on every line as `node`.
 * @param level - the minimum level written; `silent` writes nothing.
 */
export function createLogger(nodeId: string, level: LogLevel): Logger {
  return pino({
    level,
    base: { node: nodeId },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
