import { fileURLToPath } from 'node:url';

/** The repository root (build context of the Dockerfile, home of docker-compose.yml). */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
