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

/** `count` clients of `target`, each joining the rooms `roomsOf(index)` returns. */
export function clientSpecs(
  target: Target,
  count: number,
  roomsOf: (index: number) => string[] = () => [],
  transports: ClientSpec['transports'] = ['websocket'],
): ClientSpec[] {
  return Array.from({ length: count }, (_, index) => ({
    url: target.url,
    protocol: target.protocol,
    transports,
    rooms: target.protocol === 'ws' ? [] : roomsOf(index),
  }));
}
