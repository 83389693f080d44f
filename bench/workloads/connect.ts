import type { ClientSpec } from '../load/messages.js';
import { type LatencySummary, round, summarize } from '../load/stats.js';
import { withClients } from './connected-clients.js';
import { type ClientIdentity, clientSpecs, type WorkloadContext } from './workload-context.js';

/** Connect: C clients connecting at once (Socket.IO: long-polling, then the upgrade). */
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
  // The real client, as browsers connect: long-polling handshake, then the upgrade.
  const specs = (await clientSpecs(context, options.clients, undefined, as)).map((spec) => ({
    ...spec,
    transports: ['polling', 'websocket'] as ClientSpec['transports'],
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
