import { readFileSync } from 'node:fs';

/**
 * Descriptors a node needs besides one per client connection: its Redis connections, listeners,
 * the admin port, log and script files, and connections that are closing.
 */
export const DESCRIPTOR_HEADROOM = 256;

/**
 * The process's limit on open files (the soft limit, which Node.js raises to the hard limit at
 * start), read from `/proc/self/limits`; `undefined` where there is no such file (not Linux) or
 * no limit.
 *
 * @param procLimits - the file's text; read from `/proc/self/limits` when omitted
 */
export function openFileLimit(procLimits?: string): number | undefined {
  let text = procLimits;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const soft = /^Max open files\s+(\S+)/m.exec(text)?.[1];
  if (soft === undefined || soft === 'unlimited') return undefined;
  const limit = Number(soft);
  return Number.isSafeInteger(limit) ? limit : undefined;
}

/** What a node may hold within its descriptor limit. */
export type DescriptorFit =
  | { ok: true; maxConnections: number; warning?: string }
  | { ok: false; problem: string };

/**
 * Checks `MAX_CONNECTIONS` against the descriptor limit before the node accepts anyone: a node
 * that runs out of descriptors cannot accept, open a Redis connection or read a file, and fails
 * every client it has instead of refusing the next one with `too_many_connections`.
 *
 * Set explicitly, a `maxConnections` the limit cannot hold is a start-up error that says what to
 * change. Left at its default, it is lowered to what the limit holds, with a warning (so that
 * `npm start` works on a laptop with a low limit).
 *
 * @param maxConnections - `MAX_CONNECTIONS` (0: no limit, not checked)
 * @param explicit - whether `MAX_CONNECTIONS` was set, rather than defaulted
 * @param limit - the open-file limit, `undefined` when unknown or unlimited (not checked)
 */
export function fitConnectionsToDescriptors(
  maxConnections: number,
  explicit: boolean,
  limit: number | undefined,
): DescriptorFit {
  if (maxConnections === 0 || limit === undefined) return { ok: true, maxConnections };
  const needed = maxConnections + DESCRIPTOR_HEADROOM;
  if (needed <= limit) return { ok: true, maxConnections };
  const holds = Math.max(0, limit - DESCRIPTOR_HEADROOM);
  const raise = `raise the open-file limit to at least ${needed} (docker run --ulimit nofile=${needed}, compose 'ulimits: nofile:', Kubernetes: the container runtime's limit, systemd: LimitNOFILE)`;
  if (explicit) {
    return {
      ok: false,
      problem: `MAX_CONNECTIONS=${maxConnections} needs ${needed} file descriptors (one per connection and ${DESCRIPTOR_HEADROOM} for the node itself), but this process may open ${limit}: ${raise}, or set MAX_CONNECTIONS to at most ${holds}`,
    };
  }
  if (holds === 0) {
    return {
      ok: false,
      problem: `this process may open only ${limit} files, fewer than the node itself needs (${DESCRIPTOR_HEADROOM}): ${raise}`,
    };
  }
  return {
    ok: true,
    maxConnections: holds,
    warning: `MAX_CONNECTIONS lowered from its default ${maxConnections} to ${holds}: this process may open only ${limit} files; to hold more, ${raise}`,
  };
}
