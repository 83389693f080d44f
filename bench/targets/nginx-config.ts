import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../shared/repo-root.js';

/** Where the benchmark's nodes listen: a loopback TCP port and a Unix socket. */
export interface NodeAddress {
  port: number;
  socket: string;
}

/**
 * The project's nginx site config with its addresses moved to the benchmark's: `listen 80` →
 * `127.0.0.1:<listenPort>` (its parameters kept), `server unix:/run/push/nodeN.sock` → the node's socket under the
 * benchmark's directory, `server nodeN:3000` (the TCP form, for nodes on other hosts) → its
 * loopback port, and the per-address limit on new sessions lifted (every simulated client shares
 * one address). Everything else (routing map, timeouts, buffering) is the file as deployed.
 */
export async function adaptNginxSite(
  listenPort: number,
  nodes: Map<string, NodeAddress>,
): Promise<string> {
  const site = await readFile(join(REPO_ROOT, 'nginx', 'push-cluster.conf'), 'utf8');
  const addressOf = (node: string) => {
    const address = nodes.get(node);
    if (address === undefined) {
      throw new Error(`nginx config names ${node}, which the benchmark does not start`);
    }
    return address;
  };
  const adapted = site
    .replace(/listen\s+80\b/, `listen 127.0.0.1:${listenPort}`)
    .replace(
      /(server\s+)unix:\/run\/push\/(node\d+)\.sock/g,
      (_match, server: string, node: string) => `${server}unix:${addressOf(node).socket}`,
    )
    .replace(
      /(server\s+)(node\d+):3000/g,
      (_match, server: string, node: string) => `${server}127.0.0.1:${addressOf(node).port}`,
    );
  // Every simulated client comes from 127.0.0.1: the per-address limit on new sessions, meant
  // for real clients' addresses, would measure the limiter instead of the cluster.
  const unlimited = adapted.replace(/^\s*limit_req\s+zone=[^;]*;\n/m, '');
  if (unlimited === adapted) throw new Error('nginx config has no limit_req to lift');
  // An address in a form not handled above would reach nginx unchanged and fail obscurely there.
  const left = unlimited.match(/\/run\/push\/|\bnode\d+:\d+/);
  if (left !== null) throw new Error(`nginx config still names a deployed address: ${left[0]}`);
  return unlimited;
}

/** Replaces the one directive `name … ;` at the start of a line of `config`; throws if absent. */
function replaceDirective(config: string, name: string, replacement: string): string {
  const pattern = new RegExp(`^(\\s*)${name}\\s[^;]*;`, 'm');
  if (!pattern.test(config)) throw new Error(`nginx/nginx.conf has no ${name} directive`);
  return config.replace(pattern, (_match, indent: string) => `${indent}${replacement}`);
}

/**
 * The project's main nginx config (`nginx/nginx.conf`: workers, connection limits, http
 * defaults) around `site`, with every file it writes moved under `dir`, in the foreground and
 * without access log. Workers stay `auto`, as deployed, so that the cluster is measured as it
 * runs (docs/performance.md compares it with one worker).
 */
export async function adaptNginxMain(dir: string, siteFile: string): Promise<string> {
  let main = await readFile(join(REPO_ROOT, 'nginx', 'nginx.conf'), 'utf8');
  main = replaceDirective(main, 'pid', `pid ${join(dir, 'nginx.pid')};`);
  main = replaceDirective(main, 'error_log', `error_log ${join(dir, 'error.log')} warn;`);
  main = replaceDirective(main, 'access_log', 'access_log off;');
  const sites = 'include /etc/nginx/conf.d/*.conf;';
  if (!main.includes(sites)) throw new Error(`nginx/nginx.conf does not ${sites}`);
  main = main.replace(sites, `include ${siteFile};`);
  for (const kind of ['client_body', 'proxy']) {
    main = replaceDirective(main, `${kind}_temp_path`, `${kind}_temp_path ${join(dir, kind)};`);
  }
  // The other temporary paths, which a local nginx would otherwise create under its build's
  // root-owned prefix.
  const otherTemps = ['fastcgi', 'uwsgi', 'scgi'].map(
    (kind) => `\n    ${kind}_temp_path ${join(dir, kind)};`,
  );
  main = main.replace(/^http \{$/m, `http {${otherTemps.join('')}`);
  return `daemon off;\n${main}`;
}
