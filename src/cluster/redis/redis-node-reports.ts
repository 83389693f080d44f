import type { Logger } from '../../observability/logger.js';
import type { ClusterOverview, NodeReport } from '../../protocol/index.js';
import type { NodeReports, ReportSource } from '../node-reports.js';
import { type AgedReport, overviewOf } from '../overview-of.js';
import type { RedisClient } from './redis-client.js';
import { NODE_REPORTS_KEY, nodeReportKey } from './redis-keys.js';

/** How often a node files its report, and how long a report lasts without a new one. */
export const REPORT_INTERVAL_MS = 2_000;
const REPORT_TTL_MS = 15_000;
/** The longest an overview waits for Redis: past it, the answering node is all it lists. */
export const OVERVIEW_READ_TIMEOUT_MS = 1_000;

/**
 * The nodes' reports in Redis: each node sets its own (JSON, expiring 15 s after its last
 * renewal) every 2 s, and lists its instance in a set. A report's age is read from its remaining
 * time to live, on Redis's clock, so that the nodes' clocks do not matter. A node that stops
 * cleanly withdraws its report; one that dies is stale after 5 s and gone after 15 s.
 */
export class RedisNodeReports implements NodeReports {
  private readonly key: string;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly instance: string,
    private readonly report: ReportSource,
    private readonly logger: Logger,
  ) {
    this.key = nodeReportKey(instance);
    this.timer = setInterval(() => void this.file(), REPORT_INTERVAL_MS);
    this.timer.unref();
    void this.file();
  }

  async overview(): Promise<ClusterOverview> {
    const own = await this.report();
    const alone = (problem: string) => overviewOf(own, [{ report: own, ageMs: 0 }], [problem]);
    // Commands sent meanwhile would queue until Redis is back.
    if (this.redis.status !== 'ready') {
      return alone(`Redis is unreachable (${this.redis.status}): only ${own.node} is listed`);
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, OVERVIEW_READ_TIMEOUT_MS, undefined);
    });
    try {
      const read = await Promise.race([this.read(own), late]);
      if (read === undefined) {
        return alone(
          `Redis did not answer within ${OVERVIEW_READ_TIMEOUT_MS} ms: only ${own.node} is listed`,
        );
      }
      return overviewOf(own, read.reports, read.problems);
    } catch (error) {
      this.logger.warn({ err: error }, 'cluster overview: reading the reports failed');
      return alone(`reading the reports from Redis failed: only ${own.node} is listed`);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    if (this.redis.status !== 'ready') return;
    await this.redis
      .multi()
      .del(this.key)
      .srem(NODE_REPORTS_KEY, this.instance)
      .exec()
      .catch(() => {});
  }

  /** Files this node's report; skipped while Redis is unreachable (the report goes stale). */
  private async file(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    try {
      const report = await this.report();
      // Closed meanwhile: a report sent now would outlive the node by its time to live. (One
      // already sent goes before the withdrawal: commands on a connection run in order.)
      if (this.closed) return;
      await this.redis
        .multi()
        .set(this.key, JSON.stringify(report), 'PX', REPORT_TTL_MS)
        .sadd(NODE_REPORTS_KEY, this.instance)
        .exec();
    } catch (error) {
      this.logger.warn({ err: error }, 'filing the node report failed');
    }
  }

  /** Every node's report with its age; this node's is the fresh `own`. */
  private async read(own: NodeReport): Promise<{ reports: AgedReport[]; problems: string[] }> {
    const instances = (await this.redis.smembers(NODE_REPORTS_KEY)).filter(
      (instance) => instance !== this.instance,
    );
    const pipeline = this.redis.pipeline();
    for (const instance of instances)
      pipeline.get(nodeReportKey(instance)).pttl(nodeReportKey(instance));
    const results = instances.length === 0 ? [] : ((await pipeline.exec()) ?? []);
    const reports: AgedReport[] = [{ report: own, ageMs: 0 }];
    const problems: string[] = [];
    const expired: string[] = [];
    instances.forEach((instance, index) => {
      const [getError, text] = results[2 * index] ?? [];
      const [ttlError, ttl] = results[2 * index + 1] ?? [];
      if (getError || ttlError) {
        problems.push(`${instance}: its report could not be read`);
        return;
      }
      if (text === null || typeof text !== 'string' || typeof ttl !== 'number' || ttl < 0) {
        expired.push(instance);
        return;
      }
      const report = parseReport(text);
      if (report === undefined) {
        problems.push(`${instance}: its report is not readable (another version of the node?)`);
        return;
      }
      reports.push({ report, ageMs: Math.max(0, REPORT_TTL_MS - ttl) });
    });
    // Reports that expired: their nodes died long enough ago.
    if (expired.length > 0) this.redis.srem(NODE_REPORTS_KEY, ...expired).catch(() => {});
    return { reports, problems };
  }
}

/** A report read back, or `undefined` when it does not have the expected shape. */
function parseReport(text: string): NodeReport | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const report = value as Partial<NodeReport>;
  const numbers = (object: unknown, keys: readonly string[]) =>
    typeof object === 'object' &&
    object !== null &&
    keys.every((key) => typeof (object as Record<string, unknown>)[key] === 'number');
  const ok =
    typeof report.node === 'string' &&
    typeof report.instance === 'string' &&
    typeof report.state === 'string' &&
    numbers(report, ['startedAt', 'reportedAt', 'rooms', 'subscriptions']) &&
    numbers(report.connections, ['total', 'websocket', 'polling']) &&
    numbers(report.rates, ['published', 'delivered']) &&
    Array.isArray(report.topRooms) &&
    report.topRooms.every(
      (entry) => typeof entry?.room === 'string' && typeof entry.members === 'number',
    ) &&
    typeof report.roomsTruncated === 'boolean';
  return ok ? (report as NodeReport) : undefined;
}
