import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';

/**
 * vitest global setup: bundles the browser client and the demo page (esbuild, well under a
 * second), so that in-process nodes serve what the built image serves.
 */
export default async function buildWebAssets(): Promise<void> {
  await promisify(execFile)('npm', ['run', '--silent', 'build:web'], { cwd: REPO_ROOT });
}
