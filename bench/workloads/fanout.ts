import { type Measurement, measure, withSubscribersAndPublisher } from './measure.js';
import { clientSpecs, type WorkloadContext } from './workload-context.js';

const ROOM = 'fanout';

/** Fanout: C clients in one room, R msgs/s of ~100 bytes for D seconds. */
export interface FanoutResult extends Measurement {
  clients: number;
  durationS: number;
}

/** Runs the fanout workload. */
export function fanout(context: WorkloadContext): Promise<FanoutResult> {
  const { target, options } = context;
  const specs = clientSpecs(context, options.clients, () => [ROOM]);
  return withSubscribersAndPublisher(context, specs, async (publisher) => {
    const result = await measure(
      context,
      publisher,
      options.rate,
      options.duration * 1000,
      () => (target.protocol === 'ws' ? null : ROOM),
      () => options.clients,
    );
    return { ...result, clients: options.clients, durationS: options.duration };
  });
}
