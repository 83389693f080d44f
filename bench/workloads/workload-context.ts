import type { LoadGenerator } from '../load/load-generator.js';
import type { ClientSpec } from '../load/messages.js';
import type { BenchOptions } from '../options.js';
import type { Target } from '../targets/target.js';

/** What every workload runs with. */
export interface WorkloadContext {
  target: Target;
  generator: LoadGenerator;
  options: BenchOptions;
  /** Reports progress inside a workload (e.g. a saturation step). */
  note(text: string): void;
}

/**
 * `count` WebSocket clients of `target`, each joining the rooms `roomsOf(index)` returns, using
 * the client kind chosen with `--client`.
 */
export function clientSpecs(
  context: Pick<WorkloadContext, 'target' | 'options'>,
  count: number,
  roomsOf: (index: number) => string[] = () => [],
): ClientSpec[] {
  const { target, options } = context;
  return Array.from({ length: count }, (_, index) => ({
    url: target.url,
    protocol: target.protocol,
    transports: ['websocket'],
    client: options.client,
    rooms: target.protocol === 'ws' ? [] : roomsOf(index),
  }));
}
