import type { PushIo } from '../push-io.js';
import type { ShapeProblemListener } from './shape-problem.js';

const FILE = 'src/realtime/engine-internals/polling-batch.ts';

type Flush = () => void;
/** The Engine.IO socket, with the method that hands its buffered packets to the transport. */
interface EngineSocket {
  transport: { name: string };
  flush?: unknown;
}

/** Sockets whose flush waits for the end of the current turn, with the flush to run. */
const pending = new Map<EngineSocket, Flush>();
/** The batched flush of each original one, shared by every socket (no closure per connection). */
const batchedOf = new WeakMap<Flush, Flush>();

function flushPending(): void {
  for (const [socket, flush] of pending) {
    pending.delete(socket);
    flush.call(socket);
  }
}

function batched(original: Flush): Flush {
  let flush = batchedOf.get(original);
  if (flush === undefined) {
    flush = function (this: EngineSocket): void {
      if (this.transport.name !== 'polling') {
        original.call(this);
        return;
      }
      if (pending.size === 0) queueMicrotask(flushPending);
      pending.set(this, original);
    };
    batchedOf.set(original, flush);
  }
  return flush;
}

/**
 * Sends what a long-polling connection is written in one turn of the event loop in one poll
 * response. Engine.IO hands each packet to the transport as it is written: with a poll waiting,
 * the first packet ends it and the rest wait for the client's next poll, one more round trip
 * through the load balancer. A connection's `connect` answer and its `welcome` (written together)
 * and a burst of room messages now go in one response; WebSocket connections are unchanged.
 *
 * Engine.IO's socket keeps its buffer in `writeBuffer` and sends it with `flush()`, which it
 * calls when a packet is written and when a poll arrives; each long-polling connection's `flush`
 * waits for the end of the current turn (a microtask), then runs as before. A socket without
 * `flush` is left alone and reported to `onProblem`.
 */
export function batchPollingWrites(io: PushIo, onProblem: ShapeProblemListener): void {
  io.engine.on('connection', (engineSocket: unknown) => {
    // engine.io's Socket sends its buffer with `flush()`: not part of its public type.
    const conn = engineSocket as EngineSocket;
    const original = conn.flush;
    if (typeof original !== 'function') {
      onProblem({ file: FILE, expected: 'the Engine.IO socket to send its buffer with flush()' });
      return;
    }
    conn.flush = batched(original as Flush);
  });
}
