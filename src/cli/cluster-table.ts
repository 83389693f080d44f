import type { ClusterOverview } from '../protocol/index.js';

/** The cluster overview as a text table: one line per node, the totals, what is missing. */
export function clusterTable(overview: ClusterOverview): string {
  const header = [
    'node',
    'state',
    'connections',
    'websocket',
    'polling',
    'rooms',
    'published/s',
    'delivered/s',
    'report age',
  ];
  const rows = overview.nodes.map((node) => [
    node.node,
    node.stale ? `${node.state} (stale)` : node.state,
    String(node.connections.total),
    String(node.connections.websocket),
    String(node.connections.polling),
    String(node.rooms),
    node.rates.published.toFixed(1),
    node.rates.delivered.toFixed(1),
    `${(node.ageMs / 1000).toFixed(1)} s`,
  ]);
  const { totals } = overview;
  rows.push([
    `${totals.nodes} node(s)`,
    '',
    String(totals.connections),
    '',
    '',
    '',
    totals.rates.published.toFixed(1),
    totals.rates.delivered.toFixed(1),
    '',
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  const lines = [line(header), ...rows.map(line)];
  if (overview.partial) lines.push(`partial: ${overview.problems.join('; ')}`);
  return `${lines.join('\n')}\n`;
}
