/**
 * Patches of Engine.IO's and Node's internals, fenced here: the rest of the code never touches
 * engine internals. They depend on the inner shape of engine.io 6.6 (pinned exactly in
 * package.json) and earn their keep in memory per connection or in round trips
 * (docs/performance.md). Each one
 * checks the shape it relies on as it runs and reports what it did not find, naming its file;
 * `test/integration/engine-internals.test.ts` fails on the same reports.
 */
import type { PushIo } from '../push-io.js';
import { releaseHandshakeRequests } from './handshake-request-release.js';
import { compactListenerTables } from './listener-table-compaction.js';
import { batchPollingWrites } from './polling-batch.js';
import type { ShapeProblemListener } from './shape-problem.js';

export { KEPT_HANDSHAKE_HEADERS } from './handshake-request-release.js';
export { closeNow, queuedBytes } from './outbound-queue.js';
export {
  describeShapeProblem,
  type EngineShapeProblem,
  type ShapeProblemListener,
} from './shape-problem.js';

/**
 * Applies every patch to `io`'s engine, before it accepts connections: each connection's
 * handshake request is released once the handshake is built (and its headers trimmed), its
 * listener tables are compacted, and what a long-polling connection is written in one turn goes
 * in one poll response.
 *
 * @param onProblem - hears of every place where the engine lacks the expected shape.
 */
export function patchEngineInternals(io: PushIo, onProblem: ShapeProblemListener): void {
  releaseHandshakeRequests(io, onProblem);
  compactListenerTables(io, onProblem);
  batchPollingWrites(io, onProblem);
}
