import { createHash } from 'node:crypto';
import type { Identity } from '../auth/identity.js';
import { canPublish } from '../auth/room-policy.js';
import type { ClusterReadiness } from '../cluster/cluster-backend.js';
import type { IdempotencyGuard, RoomLog } from '../cluster/room-log.js';
import type { NodeMetrics, PublishSource } from '../observability/metrics.js';
import {
  ErrorCode,
  IDEMPOTENCY_WINDOW_SECONDS,
  type ProtocolError,
  type PublishReceipt,
} from '../protocol/index.js';
import type { Broadcaster } from './broadcaster.js';
import { createEnvelope } from './envelope.js';
import { validatePublish } from './publish-validation.js';

/** The outcome of {@link Publisher.publish}: what to answer the publisher. */
export type PublishResult =
  | { ok: true; receipt: PublishReceipt }
  | { ok: false; error: ProtocolError };

/** What a retry must repeat for its idempotency key to stand for the same message. */
function fingerprint(event: string, data: unknown): string {
  return createHash('sha256')
    .update(event)
    .update('\n')
    .update(JSON.stringify(data))
    .digest('base64url');
}

/**
 * The one path by which messages enter the cluster, whether they come from a socket or from the
 * HTTP API: validate, check the publisher's permission, refuse while the cluster bus is down
 * (rather than deliver to this node only), wrap in an envelope, and hand it on: a room message
 * to the room's log, which gives it its offset and carries it to every node (this one too) in
 * offset order; a message to everyone straight to every node (at most once, no order).
 */
export class Publisher {
  /** Publishes handed to Redis and not yet answered. */
  private inFlight = 0;
  private readonly settledListeners: Array<() => void> = [];

  /**
   * @param broadcaster - delivers messages to everyone, on every node.
   * @param roomLog - orders, keeps and carries room messages.
   * @param cluster - tells whether broadcasts currently reach the other nodes.
   * @param nodeId - stamped on envelopes as the origin.
   * @param maxPayloadBytes - the largest accepted request, JSON-encoded.
   * @param metrics - counts what is published, and how long Redis takes.
   */
  constructor(
    private readonly broadcaster: Broadcaster,
    private readonly roomLog: RoomLog,
    private readonly cluster: ClusterReadiness,
    private readonly nodeId: string,
    private readonly maxPayloadBytes: number,
    private readonly metrics: NodeMetrics,
  ) {}

  /**
   * Validates `input` and, when valid and allowed, delivers it to every subscriber on every node.
   * Resolves once the message is on its way: for a room, once the room's log holds it (the
   * envelope then carries its offset and epoch).
   *
   * @param from - where it comes from: a socket, with the client's identity (whose `publish`
   * permissions apply), or the HTTP API (a trusted backend, behind its key: anywhere).
   */
  async publish(
    input: unknown,
    from: { source: 'socket'; as: Identity } | { source: Exclude<PublishSource, 'socket'> },
  ): Promise<PublishResult> {
    const as = from.source === 'socket' ? from.as : undefined;
    const validation = validatePublish(input, this.maxPayloadBytes);
    if (!validation.ok) return validation;
    const { room, event, data, idempotencyKey } = validation.publish;
    if (as !== undefined && !canPublish(as, room)) {
      return {
        ok: false,
        error: {
          code: ErrorCode.Forbidden,
          message:
            room === null
              ? 'this connection may not publish to everyone'
              : `this connection may not publish to ${room}`,
        },
      };
    }
    if (!this.cluster.isReady()) {
      return {
        ok: false,
        error: {
          code: ErrorCode.Unavailable,
          message: `node ${this.nodeId} cannot reach the cluster bus (${this.cluster.status()}); retry later`,
        },
      };
    }
    const envelope = createEnvelope(this.nodeId, room, data);
    if (room === null) {
      this.broadcaster.broadcast(event, envelope);
      this.metrics.published.inc({ source: from.source, kind: 'everyone' });
      return { ok: true, receipt: { id: envelope.id } };
    }
    const guard: IdempotencyGuard | undefined =
      idempotencyKey === undefined
        ? undefined
        : { key: idempotencyKey, fingerprint: fingerprint(event, data) };
    this.inFlight++;
    try {
      const timer = this.metrics.publishLatency.startTimer();
      const appended = await this.roomLog.append(room, event, envelope, guard);
      timer();
      if (appended.kind === 'conflict') {
        return {
          ok: false,
          error: {
            code: ErrorCode.IdempotencyConflict,
            message: `idempotencyKey ${JSON.stringify(idempotencyKey)} was used for another message to ${room} in the last ${IDEMPOTENCY_WINDOW_SECONDS} s`,
          },
        };
      }
      const { offset, epoch } = appended.position;
      if (appended.kind === 'duplicate') {
        return { ok: true, receipt: { id: appended.id, offset, epoch, duplicate: true } };
      }
      this.metrics.published.inc({ source: from.source, kind: 'room' });
      return { ok: true, receipt: { id: envelope.id, offset, epoch } };
    } catch {
      // Redis went away while the append was on its way: it may have run the script or not.
      return {
        ok: false,
        error: {
          code: ErrorCode.OutcomeUnknown,
          message: `node ${this.nodeId} lost the cluster bus while handing it the message: it may or may not have been published; retry with the same idempotencyKey`,
        },
      };
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const settled of this.settledListeners.splice(0)) settled();
    }
  }

  /** Resolves once every publish handed to Redis has its answer (for a clean shutdown). */
  settled(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.settledListeners.push(resolve));
  }
}
