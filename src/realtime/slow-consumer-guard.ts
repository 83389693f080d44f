import type { Logger } from '../observability/logger.js';
import type { NodeMetrics } from '../observability/metrics.js';
import { ErrorCode } from '../protocol/index.js';
import { closeNow, queuedBytes, type ShapeProblemListener } from './engine-internals/index.js';
import type { PushIo } from './push-io.js';

/** How often every connection's queue is measured. */
const CHECK_INTERVAL_MS = 250;

/**
 * Keeps one slow client from growing the node's memory: four times a second it measures what
 * waits for each client (its Engine.IO write buffer and, for a WebSocket, what `ws` queued). A
 * client whose queue is past `maxBytes` at two checks in a row without shrinking in between (it
 * is not catching up: a burst it drains, such as a history replay, is let through) gets `goodbye`
 * (`slow_consumer`, if it can still read it) and is disconnected at once, its queue dropped. It
 * reconnects and recovers its rooms from the history.
 *
 * @returns a function that stops the guard.
 */
export function guardSlowConsumers(
  io: PushIo,
  maxBytes: number,
  metrics: NodeMetrics,
  logger: Logger,
  onProblem: ShapeProblemListener,
): () => void {
  /** Each client's queue at the previous check, while it was over the limit. */
  const over = new WeakMap<object, number>();
  const timer = setInterval(() => {
    for (const socket of io.of('/').sockets.values()) {
      const queued = queuedBytes(socket, onProblem);
      const before = over.get(socket);
      if (queued <= maxBytes || before === undefined || queued < before) {
        if (queued > maxBytes) over.set(socket, queued);
        else over.delete(socket);
        continue;
      }
      metrics.cutoffs.inc({ code: ErrorCode.SlowConsumer });
      logger.info(
        {
          sid: socket.id,
          user: socket.data.identity?.userId,
          queued,
          code: ErrorCode.SlowConsumer,
        },
        'connection cut off',
      );
      socket.emit('goodbye', {
        code: ErrorCode.SlowConsumer,
        message: `more than ${maxBytes} bytes waited for this client; reconnect and recover`,
      });
      closeNow(socket);
    }
  }, CHECK_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
