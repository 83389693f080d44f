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
 * garbage, and scavenges pause longer: fanout latency after a connect burst is markedly worse
 * than without the burst. With the flag off the old generation stays flat after the burst (the
 * measurements are in docs/performance.md).
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
