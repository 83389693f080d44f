/**
 * Preloaded (`--import`) into a Node.js process that runs with V8's pretenuring trace
 * (`--trace-pretenuring --trace-pretenuring-statistics`). On SIGUSR2 it allocates 500,000
 * objects from one object literal and keeps them all: the survival pattern that makes V8
 * decide to allocate that site straight in the old generation (the trace then prints
 * `=> tenure`). It prints {@link PROBE_READY} once loaded, and {@link PROBE_START} and
 * {@link PROBE_DONE} around the allocations, so that what V8 printed in between is the probe's.
 */
export const PROBE_READY = 'pretenuring probe: ready';
export const PROBE_START = 'pretenuring probe: allocating';
export const PROBE_DONE = 'pretenuring probe: done';

/** Objects stay alive until 200,000 later ones replace them: long enough to survive scavenges. */
const kept: unknown[] = new Array(200_000).fill(null);
const make = (i: number) => ({ id: i, tags: [i, i + 1], next: null });
function allocate(from: number, count: number): void {
  for (let i = from; i < from + count; i++) kept[i % kept.length] = make(i);
}

process.on('SIGUSR2', () => {
  process.stdout.write(`${PROBE_START}\n`);
  for (let round = 0; round < 30; round++) allocate(round * 50_000, 50_000);
  process.stdout.write(`${PROBE_DONE}\n`);
});
process.stdout.write(`${PROBE_READY}\n`);
