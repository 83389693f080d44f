import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO_ROOT } from './repo.js';

const run = promisify(execFile);

/** A `docker compose` project on the repository's own docker-compose.yml. */
export class ComposeProject {
  readonly name: string;
  private readonly env: NodeJS.ProcessEnv;

  /**
   * @param name unique project name (lowercase letters, digits, dashes)
   * @param env variables the compose file interpolates, e.g. `HTTP_PORT`
   */
  constructor(name: string, env: Record<string, string>) {
    this.name = name;
    const inherited = { ...process.env };
    // The compose file's own defaults are under test, not whatever the caller's shell exports.
    for (const key of ['PUBLISH_API_KEY', 'LOG_LEVEL', 'HTTP_PORT']) delete inherited[key];
    this.env = { ...inherited, ...env };
  }

  /** Runs `docker compose -p <name> <args>` in the repository root. */
  async compose(...args: string[]): Promise<string> {
    const { stdout } = await run('docker', ['compose', '-p', this.name, ...args], {
      cwd: REPO_ROOT,
      env: this.env,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  }

  /** `up -d --build`: builds the image from the Dockerfile and starts every service. */
  up(): Promise<string> {
    return this.compose('up', '-d', '--build');
  }

  /** `down -v`: removes containers, networks and volumes; never throws (used in cleanup). */
  async down(): Promise<void> {
    await this.compose('down', '-v', '--remove-orphans').catch((error: unknown) => {
      console.error(`compose down for ${this.name} failed:`, error);
    });
  }
}
