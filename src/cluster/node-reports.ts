import type { ClusterOverview, NodeReport } from '../protocol/index.js';

/** Makes this node's report (see {@link NodeReport}). */
export type ReportSource = () => Promise<NodeReport>;

/**
 * Where the nodes' reports about themselves meet: each node files its own every few seconds,
 * any node reads them all. What `GET /api/cluster` and the admin page show.
 */
export interface NodeReports {
  /**
   * Every node and the rooms, cluster-wide. Never waits long: what cannot be read in time is left
   * out and the overview is marked `partial`, with the reason in `problems`.
   */
  overview(): Promise<ClusterOverview>;
  /** Stops filing reports and withdraws this node's, so that it drops out of the overview at once. */
  close(): Promise<void>;
}
