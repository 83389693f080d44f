import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../../test/support/repo.js';

/**
 * The project's nginx site config with its addresses moved to loopback ports: `listen 80` →
 * `127.0.0.1:<listenPort>`, `server nodeN:3000` → `127.0.0.1:<port of nodeN>`. Everything else
 * (routing map, timeouts, buffering) is the file as deployed.
 */
export async function adaptNginxSite(
  listenPort: number,
  nodePorts: Map<string, number>,
): Promise<string> {
  const site = await readFile(join(REPO_ROOT, 'nginx', 'push-cluster.conf'), 'utf8');
  let adapted = site.replace(/listen\s+80;/, `listen 127.0.0.1:${listenPort};`);
  adapted = adapted.replace(/server\s+(node\d+):3000/g, (match, node: string) => {
    const port = nodePorts.get(node);
    if (port === undefined)
      throw new Error(`nginx config names ${node}, which the benchmark does not start`);
    return match.replace(`${node}:3000`, `127.0.0.1:${port}`);
  });
  if (/\bnode\d+:3000\b/.test(adapted)) throw new Error('nginx config still names a node host');
  return adapted;
}

/**
 * A complete nginx.conf around `site`, with every path under `dir` and logs off. One worker: with
 * the nodes, Redis and the load generator on the same cores, `worker_processes auto` measured
 * worse here (fanout p99 148–181 ms against 99–120 ms with one worker on 2 cores).
 */
export function nginxMainConfig(dir: string, siteFile: string): string {
  return `daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  include ${siteFile};
}
`;
}
