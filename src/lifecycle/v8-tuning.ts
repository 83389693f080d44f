import { setFlagsFromString } from 'node:v8';

/**
 * The V8 flags a push node sets for itself at start-up: allocation-site pretenuring off.
 *
 * V8 samples, per allocation site, how many of the objects it allocates in the young generation
 * survive a scavenge; when 85 % or more do, it switches the site to allocate straight in the old
 * generation. A burst of connections (a deploy, a node restart, a reconnect storm) makes shared
 * sites look long-lived, because each new connection keeps what it allocates. After the burst
 * the same sites go on allocating each delivery's short-lived objects in the old generation: it
 * grows by megabytes per second, and every scavenge must visit the old-to-young pointers of that
 * garbage. Measured with `npm run bench` (cluster; 1000 clients connecting at once, then fanout
 * to 1000 clients at 50 msgs/s): without this flag a node's old generation grew by ~2.7 MB per
 * scavenge for the whole fanout, scavenges paused 10–28 ms and the fanout p99 was 33–132 ms;
 * with it the old generation stays flat, pauses are 1–10 ms and the p99 is 19–26 ms, as in a run
 * without the burst.
 *
 * V8 reads the flag each time it processes allocation feedback, so setting it at run time,
 * before the node serves anything, covers the whole process (the entry-point test checks it with
 * V8's `--trace-pretenuring`).
 */
export const V8_FLAGS = ['--no-allocation-site-pretenuring'] as const;

/** Applies {@link V8_FLAGS} to this process. */
export function applyV8Flags(): void {
  for (const flag of V8_FLAGS) setFlagsFromString(flag);
}
