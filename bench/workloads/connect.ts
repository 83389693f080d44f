import type { ClientSpec } from '../load/messages.js';
import { type LatencySummary, round, summarize } from '../load/stats.js';
import { withClients } from './connected-clients.js';
import { type ClientIdentity, clientSpecs, type WorkloadContext } from './workload-context.js';

/**
 * Connect: C clients connecting at once with `socket.io-client` as the project's client library
 * connects: WebSocket first, long-polling in the same attempt if that fails.
 */
export interface ConnectBurst {
  clients: number;
  connected: number;
  errors: number;
  firstError: string | null;
  connectsPerSec: number;
  /** Time from the start of the burst until each client was welcomed, ms. */
  latency: LatencySummary;
}

/** Runs the connect burst; its clients carry a token each, unless `as` is `guest`. */
export async function connect(
  context: WorkloadContext,
  as: ClientIdentity = 'token',
): Promise<ConnectBurst> {
  const { options } = context;
  // The real client, with the client library's transports.
  const specs = (await clientSpecs(context, options.clients, undefined, as)).map((spec) => ({
    ...spec,
    transports: ['websocket', 'polling'] as ClientSpec['transports'],
    client: 'socket.io-client' as const,
  }));
  return withClients(
    context,
    specs,
    async (result) => ({
      clients: options.clients,
      connected: result.ok,
      errors: result.errors.length,
      firstError: result.errors[0] ?? null,
      connectsPerSec: round((result.ok / result.wallMs) * 1000, 0),
      latency: summarize(result.connectMs),
    }),
    { tolerateErrors: true },
  );
}
