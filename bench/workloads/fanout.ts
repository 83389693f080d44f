import { type Measurement, measure, withSubscribersAndPublisher } from './measure.js';
import { type ClientIdentity, clientSpecs, type WorkloadContext } from './workload-context.js';

const ROOM = 'fanout';

/**
 * Fanout: C clients in one room, R msgs/s of ~100 bytes for D seconds, after a warm-up at the
 * same rate.
 */
export interface FanoutResult extends Measurement {
  clients: number;
  durationS: number;
  /**
   * The first `--warmup` seconds at the same rate, right after the clients connected: accounted
   * for loss like the rest, timed apart (JIT, the connection burst's garbage and fresh TCP
   * windows make its tail several times the steady one's). `null` with `--warmup 0`.
   */
  warmup: Measurement | null;
}

/** Runs the fanout workload; its clients carry a token each, unless `as` is `guest`. */
export async function fanout(
  context: WorkloadContext,
  as: ClientIdentity = 'token',
): Promise<FanoutResult> {
  const { target, options } = context;
  const specs = await clientSpecs(context, options.clients, () => [ROOM], as);
  return withSubscribersAndPublisher(context, specs, async (publisher) => {
    const publishFor = (seconds: number) =>
      measure(
        context,
        publisher,
        options.rate,
        seconds * 1000,
        () => (target.protocol === 'ws' ? null : ROOM),
        () => options.clients,
      );
    const warmup = options.warmup > 0 ? await publishFor(options.warmup) : null;
    const result = await publishFor(options.duration);
    return { ...result, clients: options.clients, durationS: options.duration, warmup };
  });
}
