import { type Measurement, measure, withSubscribersAndPublisher } from './measure.js';
import { clientSpecs, type WorkloadContext } from './workload-context.js';

const ROOM = 'saturation';
/** A step passes while p99 stays at or under this, with nothing lost. */
export const SATURATION_P99_LIMIT_MS = 100;
/** Bisection steps between the last passing and the first failing doubled rate. */
const REFINE_STEPS = 3;

/** One step of the ramp. */
export interface SaturationStep extends Measurement {
  passed: boolean;
  /** A second measurement of a rate whose first one missed the p99 goal without loss. */
  repeat?: true;
}

/**
 * Saturation: the fanout population, from a quarter of the fanout rate, doubled each step until
 * p99 > 100 ms or loss, then bisected three times between the last passing and the first failing
 * rate. A rate that misses the p99 goal without loss is measured once more, and fails only if
 * that misses too: on a shared 2-vCPU VM a single pause of the machine would otherwise end the
 * ramp at half the rate the cluster sustains. A loss is never measured again.
 */
export interface SaturationResult {
  clients: number;
  steps: SaturationStep[];
  /** Highest deliveries/s of a passing step (0 when even the first failed). */
  maxSustainedDeliveriesPerSec: number;
  /** Why the ramp stopped. */
  stoppedBecause: string;
}

/** Runs the saturation ramp. */
export async function saturation(context: WorkloadContext): Promise<SaturationResult> {
  const { target, options } = context;
  const specs = await clientSpecs(context, options.clients, () => [ROOM]);
  return withSubscribersAndPublisher(context, specs, async (publisher) => {
    const steps: SaturationStep[] = [];
    const measureOnce = async (rate: number, repeat: boolean): Promise<SaturationStep> => {
      context.note(`${rate} msgs/s${repeat ? ' (again)' : ''}`);
      const result = await measure(
        context,
        publisher,
        rate,
        options.stepDuration * 1000,
        () => (target.protocol === 'ws' ? null : ROOM),
        () => options.clients,
      );
      const passed =
        result.latency.p99 <= SATURATION_P99_LIMIT_MS && result.lost === 0 && result.refused === 0;
      const measured: SaturationStep = repeat
        ? { ...result, passed, repeat }
        : { ...result, passed };
      steps.push(measured);
      return measured;
    };
    const step = async (rate: number): Promise<SaturationStep> => {
      const first = await measureOnce(rate, false);
      const slowOnly = !first.passed && first.lost === 0 && first.refused === 0;
      return slowOnly ? measureOnce(rate, true) : first;
    };

    // Double until a step fails…
    let passing = 0;
    let failing: SaturationStep | undefined;
    for (let index = 0; index < options.maxSteps; index++) {
      const result = await step(Math.ceil(options.rate / 4) * 2 ** index);
      if (!result.passed) {
        failing = result;
        break;
      }
      passing = result.rate;
    }
    // …then bisect between the last passing and the first failing rate.
    if (failing !== undefined && passing > 0) {
      let high = failing.rate;
      for (let index = 0; index < REFINE_STEPS; index++) {
        const middle = Math.round((passing + high) / 2);
        if (middle <= passing || middle >= high) break;
        const result = await step(middle);
        if (result.passed) passing = middle;
        else {
          high = middle;
          failing = result;
        }
      }
    }
    const stoppedBecause =
      failing === undefined
        ? `reached --max-steps ${options.maxSteps}`
        : failing.lost > 0 || failing.refused > 0
          ? `loss at ${failing.rate} msgs/s (${failing.lost} lost, ${failing.refused} refused)`
          : `p99 ${failing.latency.p99} ms > ${SATURATION_P99_LIMIT_MS} ms at ${failing.rate} msgs/s`;
    const best = steps
      .filter((candidate) => candidate.passed)
      .reduce((max, candidate) => Math.max(max, candidate.deliveredPerSec), 0);
    return {
      clients: options.clients,
      steps,
      maxSustainedDeliveriesPerSec: best,
      stoppedBecause,
    };
  });
}
