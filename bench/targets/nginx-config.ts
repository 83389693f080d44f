import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../shared/repo-root.js';

const run = promisify(execFile);

/** Where nginx's generated files go in a deployment (nginx/push-nginx.sh, PUSH_NGINX_GENERATED). */
const DEPLOYED_GENERATED = '/etc/nginx/push/';

/**
 * Renders nginx's generated files into `generatedDir` with the project's own script
 * (`nginx/push-nginx.sh render`), as the nginx container does at start: its limits for
 * `maxClients` and the node list from the Unix sockets in `socketDir`.
 */
export async function renderNginxGenerated(
  generatedDir: string,
  socketDir: string,
  maxClients: number,
): Promise<void> {
  await run('sh', [join(REPO_ROOT, 'nginx', 'push-nginx.sh'), 'render'], {
    env: {
      ...process.env,
      PUSH_NGINX_GENERATED: generatedDir,
      PUSH_NODE_SOCKETS: socketDir,
      PUSH_MAX_CLIENTS: String(maxClients),
    },
  });
}

/**
 * The project's nginx site config with its addresses moved to the benchmark's: `listen 80` →
 * `127.0.0.1:<listenPort>` (its parameters kept), the generated node list (routing map and
 * upstream, see {@link renderNginxGenerated}) read from `generatedDir`, and the per-address limit
 * on new sessions lifted (every simulated client shares one address). Everything else (timeouts,
 * buffering, error pages) is the file as deployed.
 */
export async function adaptNginxSite(listenPort: number, generatedDir: string): Promise<string> {
  const site = await readFile(join(REPO_ROOT, 'nginx', 'push-cluster.conf'), 'utf8');
  const adapted = moveGenerated(
    site.replace(/listen\s+80\b/, `listen 127.0.0.1:${listenPort}`),
    generatedDir,
  );
  // Every simulated client comes from 127.0.0.1: the per-address limit on new sessions, meant
  // for real clients' addresses, would measure the limiter instead of the cluster.
  const unlimited = adapted.replace(/^\s*limit_req\s+zone=[^;]*;\n/m, '');
  if (unlimited === adapted) throw new Error('nginx config has no limit_req to lift');
  // An address in a form not handled above would reach nginx unchanged and fail obscurely there.
  const left = unlimited.match(/\/run\/push\/|\bnode\d+:\d+|listen\s+80\b/);
  if (left !== null) throw new Error(`nginx config still names a deployed address: ${left[0]}`);
  return unlimited;
}

/** `include /etc/nginx/push/<file>;` → `include <generatedDir>/<file>;`, at least once. */
function moveGenerated(config: string, generatedDir: string): string {
  if (!config.includes(`include ${DEPLOYED_GENERATED}`)) {
    throw new Error(`nginx config includes nothing from ${DEPLOYED_GENERATED}`);
  }
  return config.replaceAll(`include ${DEPLOYED_GENERATED}`, `include ${generatedDir}/`);
}

/** Replaces the one directive `name … ;` at the start of a line of `config`; throws if absent. */
function replaceDirective(config: string, name: string, replacement: string): string {
  const pattern = new RegExp(`^(\\s*)${name}\\s[^;]*;`, 'm');
  if (!pattern.test(config)) throw new Error(`nginx/nginx.conf has no ${name} directive`);
  return config.replace(pattern, (_match, indent: string) => `${indent}${replacement}`);
}

/**
 * The project's main nginx config (`nginx/nginx.conf`: http defaults; workers and connection
 * limits from the generated files in `generatedDir`, as deployed) around `site`, with every file
 * it writes moved under `dir`, in the foreground and without access log.
 */
export async function adaptNginxMain(
  dir: string,
  siteFile: string,
  generatedDir: string,
): Promise<string> {
  let main = moveGenerated(
    await readFile(join(REPO_ROOT, 'nginx', 'nginx.conf'), 'utf8'),
    generatedDir,
  );
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
