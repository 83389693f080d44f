import { withClients } from './connected-clients.js';
import { type Measurement, measure, withPublisher } from './measure.js';
import { clientSpecs, type WorkloadContext } from './workload-context.js';

const ROOM = 'saturation';
/** A step passes while p99 stays at or under this, with nothing lost. */
export const SATURATION_P99_LIMIT_MS = 100;

/** One step of the ramp. */
export interface SaturationStep extends Measurement {
  passed: boolean;
}

/**
 * Saturation: the fanout population, from a quarter of the fanout rate, doubled each step until
 * p99 > 100 ms or loss.
 */
export interface SaturationResult {
  clients: number;
  steps: SaturationStep[];
  /** Deliveries/s of the last passing step (0 when even the first failed). */
  maxSustainedDeliveriesPerSec: number;
  /** Why the ramp stopped. */
  stoppedBecause: string;
}

/** Runs the saturation ramp. */
export function saturation(context: WorkloadContext): Promise<SaturationResult> {
  const { target, options } = context;
  const specs = clientSpecs(target, options.clients, () => [ROOM]);
  return withClients(context, specs, () =>
    withPublisher(context, async (publisher) => {
      const steps: SaturationStep[] = [];
      let stoppedBecause = `reached --max-steps ${options.maxSteps}`;
      for (let step = 0; step < options.maxSteps; step++) {
        const rate = Math.ceil(options.rate / 4) * 2 ** step;
        context.note(`${rate} msgs/s`);
        const result = await measure(
          context,
          publisher,
          rate,
          options.stepDuration * 1000,
          () => (target.protocol === 'ws' ? null : ROOM),
          () => options.clients,
        );
        const passed =
          result.latency.p99 <= SATURATION_P99_LIMIT_MS &&
          result.lost === 0 &&
          result.refused === 0;
        steps.push({ ...result, passed });
        if (!passed) {
          stoppedBecause =
            result.lost > 0 || result.refused > 0
              ? `loss at ${rate} msgs/s (${result.lost} lost, ${result.refused} refused)`
              : `p99 ${result.latency.p99} ms > ${SATURATION_P99_LIMIT_MS} ms at ${rate} msgs/s`;
          break;
        }
      }
      const lastPassed = steps.filter((step) => step.passed).at(-1);
      return {
        clients: options.clients,
        steps,
        maxSustainedDeliveriesPerSec: lastPassed?.deliveredPerSec ?? 0,
        stoppedBecause,
      };
    }),
  );
}
