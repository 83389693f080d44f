import type { ClusterOverview } from '../../protocol/index.js';
import type { NodeReports, ReportSource } from '../node-reports.js';
import { overviewOf } from '../overview-of.js';

/** A single node's reports: only its own, made when asked for. */
export class MemoryNodeReports implements NodeReports {
  constructor(private readonly report: ReportSource) {}

  async overview(): Promise<ClusterOverview> {
    const own = await this.report();
    return overviewOf(own, [{ report: own, ageMs: 0 }], []);
  }

  async close(): Promise<void> {}
}
