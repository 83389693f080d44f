import type { PushSocket } from '../push-io.js';
import type { ShapeProblemListener } from './shape-problem.js';

const FILE = 'src/realtime/engine-internals/outbound-queue.ts';

/** An Engine.IO packet waiting in a socket's write buffer. */
interface QueuedPacket {
  data?: unknown;
}
/** What this file reads of an Engine.IO socket and its transport: not part of their public types. */
interface EngineSocketInternals {
  writeBuffer?: QueuedPacket[];
  transport: { name: string; socket?: { bufferedAmount?: unknown; terminate?: () => void } };
}

/**
 * Bytes a node holds for a client that it has not yet handed to the kernel: packets in the
 * Engine.IO socket's write buffer (they pile up while the transport waits for the client: a
 * long-poll not yet back, a WebSocket whose peer stopped reading) and, for a WebSocket, what
 * `ws` has queued on the TCP socket. Strings count one byte per character: a bound, not an exact
 * figure.
 */
export function queuedBytes(socket: PushSocket, onProblem: ShapeProblemListener): number {
  // The write buffer and the transport's ws socket are engine internals, absent from its types.
  const conn = socket.conn as unknown as EngineSocketInternals;
  let total = 0;
  const buffer = conn.writeBuffer;
  if (Array.isArray(buffer)) {
    for (const packet of buffer) {
      const { data } = packet;
      if (typeof data === 'string') total += data.length;
      else if (ArrayBuffer.isView(data) || data instanceof ArrayBuffer) total += data.byteLength;
    }
  } else {
    onProblem({ file: FILE, expected: 'the Engine.IO socket to keep its writeBuffer array' });
  }
  if (conn.transport.name === 'websocket') {
    const buffered = conn.transport.socket?.bufferedAmount;
    if (typeof buffered === 'number') total += buffered;
    else onProblem({ file: FILE, expected: 'the WebSocket transport to keep its ws socket' });
  }
  return total;
}

/**
 * Closes a client's connection at once, dropping what was queued for it (a graceful close would
 * wait for the queue to drain, which a client that does not read never lets happen).
 */
export function closeNow(socket: PushSocket): void {
  // `close(discard)` and the transport's ws socket are engine internals, absent from its types.
  const conn = socket.conn as unknown as EngineSocketInternals & { close(discard: boolean): void };
  const ws = conn.transport.name === 'websocket' ? conn.transport.socket : undefined;
  socket.disconnect(true);
  conn.close(true);
  // ws would otherwise wait up to 30 s for the peer to take its close frame.
  ws?.terminate?.();
}
