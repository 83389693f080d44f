import type { ClusterOverview, NodeReport, NodeStatus, RoomCount } from '../protocol/index.js';

/** A report without news for longer than this is stale: a node files one every 2 s. */
export const STALE_AFTER_MS = 5_000;
/** The most rooms an overview lists. */
export const OVERVIEW_ROOMS = 500;

/** A node's latest report and its age, as read. */
export interface AgedReport {
  report: NodeReport;
  ageMs: number;
}

/**
 * The cluster overview from the nodes' latest reports, as `own` (the answering node) sees it:
 * stale reports are listed but not counted, and make the overview partial, like any problem
 * met while reading them.
 */
export function overviewOf(
  own: NodeReport,
  reports: readonly AgedReport[],
  problems: readonly string[],
): ClusterOverview {
  const found = [...problems];
  const nodes: NodeStatus[] = reports
    .map(({ report, ageMs }) => ({ ...report, ageMs, stale: ageMs > STALE_AFTER_MS }))
    .sort((a, b) => a.node.localeCompare(b.node) || a.instance.localeCompare(b.instance));
  const fresh = nodes.filter((node) => !node.stale);
  for (const node of nodes) {
    if (node.stale) {
      found.push(
        `${node.node}: no report for ${Math.round(node.ageMs / 1000)} s (dead, cut off from Redis or stuck); its figures are its last known and not counted`,
      );
    }
  }
  const members = new Map<string, number>();
  for (const node of fresh) {
    for (const { room, members: count } of node.topRooms) {
      members.set(room, (members.get(room) ?? 0) + count);
    }
  }
  const rooms: RoomCount[] = [...members]
    .map(([room, count]) => ({ room, members: count }))
    .sort((a, b) => b.members - a.members || a.room.localeCompare(b.room));
  const sum = (pick: (node: NodeStatus) => number) =>
    fresh.reduce((total, node) => total + pick(node), 0);
  return {
    node: own.node,
    at: own.reportedAt,
    partial: found.length > 0,
    problems: found,
    nodes,
    totals: {
      nodes: fresh.length,
      connections: sum((node) => node.connections.total),
      subscriptions: sum((node) => node.subscriptions),
      rates: {
        published: sum((node) => node.rates.published),
        delivered: sum((node) => node.rates.delivered),
      },
    },
    rooms: rooms.slice(0, OVERVIEW_ROOMS),
    roomsTruncated: rooms.length > OVERVIEW_ROOMS || fresh.some((node) => node.roomsTruncated),
  };
}
