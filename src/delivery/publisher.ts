import type { Identity } from '../auth/identity.js';
import { canPublish } from '../auth/room-policy.js';
import type { ClusterLink } from '../cluster/cluster-link.js';
import type { RoomLog } from '../cluster/room-log.js';
import type { NodeMetrics, PublishSource } from '../observability/metrics.js';
import { type Envelope, ErrorCode, type ProtocolError } from '../protocol/index.js';
import type { Broadcaster } from './broadcaster.js';
import { createEnvelope } from './envelope.js';
import { validatePublish } from './publish-validation.js';

/** The outcome of {@link Publisher.publish}. */
export type PublishResult = { ok: true; envelope: Envelope } | { ok: false; error: ProtocolError };

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
   * @param link - tells whether broadcasts currently reach the other nodes.
   * @param nodeId - stamped on envelopes as the origin.
   * @param maxPayloadBytes - the largest accepted request, JSON-encoded.
   * @param metrics - counts what is published, and how long Redis takes.
   */
  constructor(
    private readonly broadcaster: Broadcaster,
    private readonly roomLog: RoomLog,
    private readonly link: ClusterLink,
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
    const { room, event, data } = validation.publish;
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
    if (!this.link.isReady()) {
      return {
        ok: false,
        error: {
          code: ErrorCode.Unavailable,
          message: `node ${this.nodeId} cannot reach the cluster bus (${this.link.status()}); retry later`,
        },
      };
    }
    const envelope = createEnvelope(this.nodeId, room, data);
    if (room === null) {
      this.broadcaster.broadcast(event, envelope);
      this.metrics.published.inc({ source: from.source, kind: 'everyone' });
      return { ok: true, envelope };
    }
    this.inFlight++;
    try {
      const timer = this.metrics.publishLatency.startTimer();
      const { offset, epoch } = await this.roomLog.append(room, event, envelope);
      timer();
      this.metrics.published.inc({ source: from.source, kind: 'room' });
      return { ok: true, envelope: { ...envelope, offset, epoch } };
    } catch {
      // Redis went away between the readiness check and the append: nothing was published.
      return {
        ok: false,
        error: {
          code: ErrorCode.Unavailable,
          message: `node ${this.nodeId} could not hand the message to the cluster bus; retry later`,
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
