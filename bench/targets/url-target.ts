import type { Target } from './target.js';

/** A cluster started elsewhere (e.g. `docker compose up`), reached at `url`; nothing to stop. */
export function urlTarget(url: string): Target {
  return {
    name: 'url',
    description: `running cluster at ${url} (server memory and CPU not visible)`,
    protocol: 'socket.io',
    url,
    servers: [],
    infrastructure: [],
    stop: async () => {},
  };
}
