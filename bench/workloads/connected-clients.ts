import type { ConnectedBatch } from '../load/load-generator.js';
import type { ClientSpec } from '../load/messages.js';
import type { WorkloadContext } from './workload-context.js';

/**
 * Connects `specs`, runs `body` with the connection result, and always closes the clients. Fails
 * when a client could not connect: a workload measures a complete population or nothing.
 */
export async function withClients<T>(
  context: WorkloadContext,
  specs: ClientSpec[],
  body: (connected: ConnectedBatch) => Promise<T>,
  { tolerateErrors = false } = {},
): Promise<T> {
  try {
    const connected = await context.generator.connect(specs);
    if (!tolerateErrors && connected.errors.length > 0) {
      throw new Error(
        `${connected.errors.length} of ${specs.length} clients could not connect to ${context.target.name}: ${connected.errors[0]}`,
      );
    }
    return await body(connected);
  } finally {
    await context.generator.closeClients();
  }
}
