import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Where a published message came from. */
export type PublishSource = 'socket' | 'http';

/** What the node's gauges are read from, at scrape time. */
export interface NodeState {
  /** Open connections, by transport (`websocket`, `polling`). */
  connectionsByTransport(): Record<string, number>;
  /** Subscriber rooms on this node, and subscriptions (room × member) in them; users' own rooms aside. */
  rooms(): { rooms: number; subscriptions: number };
  /** Whether the node reaches Redis (always true for a single node). */
  redisUp(): boolean;
}

/**
 * The node's Prometheus metrics (`GET /metrics`), in a registry of its own (several nodes may
 * share a process in tests), every series labelled with the node id: Node.js's default process
 * metrics (event-loop lag among them) and the push cluster's own.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  /** Messages accepted, by source and kind (`room` or `everyone`). */
  readonly published: Counter<'source' | 'kind'>;
  /** Room messages handed to this node's subscribers (one per subscriber and message). */
  readonly delivered: Counter;
  /** From a room publish handed to Redis to Redis holding it, seconds. */
  readonly publishLatency: Histogram;
  /** Requests, events and connections refused, by error code (rate limits: `rate_limited`). */
  readonly refusals: Counter<'code'>;
  /** Connections the node cut off itself, by reason (`token_expired`, `slow_consumer`, …). */
  readonly cutoffs: Counter<'code'>;
  /** Connections that ended, by Socket.IO's reason. */
  readonly disconnects: Counter<'reason'>;
  /** Subscribes `since` a position that recovered (`recovered`) or could not (`not_recovered`). */
  readonly recoveries: Counter<'outcome'>;
  /** Messages sent from the history to recovering clients. */
  readonly replayed: Counter;
  /** Room messages this node received from the room log (its rooms' traffic), and their bytes. */
  readonly feedMessages: Counter;
  readonly feedBytes: Counter;

  constructor(nodeId: string, state: NodeState) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node: nodeId });
    collectDefaultMetrics({ register: this.registry });
    this.published = new Counter({
      name: 'push_messages_published_total',
      help: 'Messages accepted for delivery, by source (socket, http) and kind (room, everyone).',
      labelNames: ['source', 'kind'],
      registers,
    });
    this.delivered = new Counter({
      name: 'push_messages_delivered_total',
      help: "Room messages handed to this node's subscribers (one per subscriber and message).",
      registers,
    });
    this.publishLatency = new Histogram({
      name: 'push_publish_to_redis_seconds',
      help: 'From a room message handed to Redis until Redis holds it (its offset assigned).',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.refusals = new Counter({
      name: 'push_refusals_total',
      help: 'Requests, events and connections refused, by error code.',
      labelNames: ['code'],
      registers,
    });
    this.cutoffs = new Counter({
      name: 'push_cutoffs_total',
      help: 'Connections the node cut off itself, by reason.',
      labelNames: ['code'],
      registers,
    });
    this.disconnects = new Counter({
      name: 'push_disconnects_total',
      help: 'Connections that ended, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.recoveries = new Counter({
      name: 'push_recoveries_total',
      help: 'Subscribes since a position, by outcome (recovered, not_recovered).',
      labelNames: ['outcome'],
      registers,
    });
    this.replayed = new Counter({
      name: 'push_history_replayed_messages_total',
      help: 'Messages sent from room histories to recovering clients.',
      registers,
    });
    this.feedMessages = new Counter({
      name: 'push_room_feed_messages_total',
      help: 'Room messages this node received from the room log (Redis): the rooms it follows.',
      registers,
    });
    this.feedBytes = new Counter({
      name: 'push_room_feed_bytes_total',
      help: 'Bytes of the room messages this node received from the room log (as JSON text).',
      registers,
    });
    new Gauge({
      name: 'push_connections',
      help: 'Open client connections, by transport.',
      labelNames: ['transport'],
      registers,
      collect() {
        this.reset();
        for (const [transport, count] of Object.entries(state.connectionsByTransport())) {
          this.set({ transport }, count);
        }
      },
    });
    new Gauge({
      name: 'push_rooms',
      help: 'Rooms with subscribers on this node.',
      registers,
      collect() {
        this.set(state.rooms().rooms);
      },
    });
    new Gauge({
      name: 'push_subscriptions',
      help: 'Subscriptions (room × subscriber) on this node.',
      registers,
      collect() {
        this.set(state.rooms().subscriptions);
      },
    });
    new Gauge({
      name: 'push_redis_up',
      help: '1 while the node reaches Redis (always 1 for a single node).',
      registers,
      collect() {
        this.set(state.redisUp() ? 1 : 0);
      },
    });
  }

  /** The text a Prometheus server scrapes. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
