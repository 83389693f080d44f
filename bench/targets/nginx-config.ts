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
 * A complete nginx.conf around `site`, with every path under `dir` and logs off. Workers:
 * `auto`, one per core, as the nginx image deployed by docker-compose.yml runs. (On a 2-core
 * Intel VM the cluster's fanout p99 after the idle and connect workloads was 14.0–15.7 ms with
 * `auto` against 15.2–22.2 ms with one worker; an earlier, busier AMD VM had measured the
 * opposite, 148–181 against 99–120 ms, before the generator and the nodes were made lighter.)
 */
export function nginxMainConfig(dir: string, siteFile: string): string {
  return `daemon off;
worker_processes auto;
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
