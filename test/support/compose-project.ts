import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from '../../bench/shared/free-port.js';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

/** The variables docker-compose.yml reads from the caller's environment. */
const COMPOSE_VARIABLES = [
  'PUBLISH_API_KEYS',
  'AUTH_JWT_SECRET',
  'ALLOW_GUESTS',
  'GUEST_ROOMS',
  'GUEST_PUBLISH',
  'ADMIN_API_KEY',
  'LOG_LEVEL',
  'HTTP_PORT',
  'CORS_ORIGINS',
  'MAX_CLIENTS',
];

/** A `docker compose` project on the repository's own docker-compose.yml (and overrides). */
export class ComposeProject {
  readonly name: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly files: readonly string[];

  /**
   * @param name unique project name (lowercase letters, digits, dashes)
   * @param env variables the compose file interpolates, e.g. `HTTP_PORT`
   * @param files the compose files, in order (`-f` each); the base file alone by default
   */
  constructor(name: string, env: Record<string, string>, files: readonly string[] = []) {
    this.name = name;
    this.files = files;
    const inherited = { ...process.env };
    // The compose file's own defaults are under test, not whatever the caller's shell exports.
    for (const key of COMPOSE_VARIABLES) delete inherited[key];
    this.env = { ...inherited, ...env };
  }

  /** Runs `docker compose -p <name> <args>` in the repository root. */
  async compose(...args: string[]): Promise<string> {
    const files = this.files.flatMap((file) => ['-f', file]);
    const { stdout } = await run('docker', ['compose', '-p', this.name, ...files, ...args], {
      cwd: REPO_ROOT,
      env: this.env,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  }

  /**
   * The push nodes (the `node` service's containers) by their NODE_ID, sorted. A node takes its
   * container's hostname, the container's short id, as NODE_ID; `docker` accepts that id.
   */
  async nodeIds(): Promise<string[]> {
    const ids = await this.compose('ps', '-q', 'node');
    return ids
      .split('\n')
      .filter((id) => id !== '')
      .map((id) => id.slice(0, 12))
      .sort();
  }

  /** Runs `docker <args>` (on a node's container: its NODE_ID names it). */
  async docker(...args: string[]): Promise<string> {
    const { stdout } = await run('docker', args, { env: this.env, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  }

  /**
   * `up -d --build`: builds the image from the Dockerfile and starts every service, with
   * `nodes` push nodes (`--scale node=N`) if given, else the compose file's number.
   */
  up(nodes?: number): Promise<string> {
    const scale = nodes === undefined ? [] : ['--scale', `node=${nodes}`];
    return this.compose('up', '-d', '--build', ...scale);
  }

  /** `down -v`: removes containers, networks and volumes; never throws (used in cleanup). */
  async down(): Promise<void> {
    await this.compose('down', '-v', '--remove-orphans').catch((error: unknown) => {
      console.error(`compose down for ${this.name} failed:`, error);
    });
  }
}

/** The compose file's development token secret (its `AUTH_JWT_SECRET` fallback). */
export const COMPOSE_DEFAULT_JWT_SECRET = 'local-dev-jwt-secret-change-me-0123456789';

/** The compose file's default publish key (its `PUBLISH_API_KEYS` fallback). */
export const COMPOSE_DEFAULT_API_KEY = 'local-dev-publish-key-change-me';

/** A running compose project and where nginx listens. */
export interface ComposeCluster {
  project: ComposeProject;
  /** nginx on a free loopback port. */
  url: string;
}

/**
 * `docker compose up -d --build` on the repository's compose file (with `files`, those: e.g. the
 * base file and an override), with its defaults (and `env`, variables it reads) and
 * `HTTP_PORT` moved to a free port, under a unique project name, with `nodes` push nodes if
 * given; resolves once nginx answers `/healthz`. On failure everything is taken down again.
 */
export async function startComposeCluster(
  prefix: string,
  files: readonly string[] = [],
  env: Record<string, string> = {},
  nodes?: number,
): Promise<ComposeCluster> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const project = new ComposeProject(
    `${prefix}${process.pid}${Date.now().toString(36)}`,
    { ...env, HTTP_PORT: String(port) },
    files,
  );
  try {
    await project.up(nodes);
    await waitFor(
      async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.status === 200,
      { timeoutMs: 120_000, intervalMs: 500, what: `nginx on ${url}` },
    );
  } catch (error) {
    await project.down();
    throw error;
  }
  return { project, url };
}
