import { signToken } from '../../src/auth/token-signer.js';
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

/** Every simulated user is another user (`sub`), across workloads. */
let nextUser = 0;

/** Who simulated users are: users with a token each (the default), or guests. */
export type ClientIdentity = 'token' | 'guest';

/**
 * `count` WebSocket clients of `target`, each joining the rooms `roomsOf(index)` returns, using
 * the client kind chosen with `--client`. Each carries its own token (a user of its own, signed
 * here, before the clients connect) when the target verifies tokens, unless `as` is `guest`.
 */
export async function clientSpecs(
  context: Pick<WorkloadContext, 'target' | 'options'>,
  count: number,
  roomsOf: (index: number) => string[] = () => [],
  as: ClientIdentity = 'token',
): Promise<ClientSpec[]> {
  const { target, options } = context;
  const secret = as === 'token' ? target.tokenSecret : undefined;
  const tokens =
    secret === undefined
      ? []
      : await Promise.all(
          Array.from({ length: count }, (_, index) =>
            signToken(secret, { sub: `bench-${nextUser + index}`, ttlSeconds: 3600 }),
          ),
        );
  nextUser += count;
  return Array.from({ length: count }, (_, index) => ({
    url: target.url,
    protocol: target.protocol,
    transports: ['websocket'],
    client: options.client,
    rooms: target.protocol === 'ws' ? [] : roomsOf(index),
    token: tokens[index],
  }));
}
