import { BENCH_ADMIN_KEY, type ServerProcess } from './target.js';

/**
 * The values of the unlabelled (but for `node`) Prometheus samples `names` of `server`, read from
 * its `/metrics`; `undefined` for a server without one (ws-raw, `--url`) or one that does not
 * answer.
 */
export async function readNodeMetrics(
  server: ServerProcess,
  names: readonly string[],
): Promise<Record<string, number> | undefined> {
  if (server.metricsUrl === undefined) return undefined;
  try {
    const response = await fetch(server.metricsUrl, {
      headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}` },
      signal: AbortSignal.timeout(5000),
    });
    if (!response.ok) return undefined;
    const values: Record<string, number> = {};
    for (const line of (await response.text()).split('\n')) {
      const name = line.split(/[{ ]/, 1)[0] ?? '';
      if (names.includes(name)) values[name] = Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return values;
  } catch {
    return undefined;
  }
}
