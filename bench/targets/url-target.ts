import type { Target } from './target.js';

/**
 * A cluster started elsewhere (e.g. `docker compose up`), reached at `url`; nothing to stop. Its
 * clients carry tokens signed with `tokenSecret` (the cluster's `AUTH_JWT_SECRET`).
 */
export function urlTarget(url: string, tokenSecret: string): Target {
  return {
    name: 'url',
    description: `running cluster at ${url} (server memory and CPU not visible)`,
    protocol: 'socket.io',
    url,
    tokenSecret,
    servers: [],
    infrastructure: [],
    stop: async () => {},
  };
}
