import type { Cluster } from 'ioredis';
import type { Logger } from '../../observability/logger.js';
import { keySlot } from './key-slot.js';
import type { RedisClient } from './redis-client.js';
import { probeChannel } from './redis-keys.js';

/** How often a probe is published on each shard, and how long it may take to come back. */
const PROBE_INTERVAL_MS = 1_000;
const PROBE_TIMEOUT_MS = 3_000;
/** The least time between two reconnects the probe forces. */
const RECONNECT_EVERY_MS = 10_000;

/**
 * An end-to-end check of the node's room feed: every second it publishes on a channel of its own
 * on every shard (one channel for a single Redis) and expects to hear it back on the subscriber
 * connection. A connection can look healthy and still hear nothing (a failover that left a
 * subscription behind, a proxy that dropped it): pings do not see that, this does. While a probe
 * is late the node is not ready (it refuses publishes, nginx sends new sessions elsewhere); the
 * subscriber is reconnected (ioredis subscribes again to every room), and once every probe is
 * heard again `onRecovered` lets the node catch up from the history.
 */
export class PubSubProbe {
  /** When each probe channel was last heard, ms. */
  private readonly heard = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private healthyBefore = true;
  /** The shards' masters the probe channels were picked for, and the channels. */
  private shards = '';
  private current: string[] = [];
  private lastReconnect = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly sharded: boolean,
    private readonly instance: string,
    private readonly logger: Logger,
    private readonly onRecovered: () => void,
  ) {
    subscriber.on(sharded ? 'smessage' : 'message', (channel: string) => {
      if (this.heard.has(channel)) this.heard.set(channel, Date.now());
    });
    this.timer = setInterval(() => this.tick(), PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  /** True while every shard's probe came back in time. */
  get healthy(): boolean {
    const now = Date.now();
    if (this.heard.size === 0) return false;
    for (const at of this.heard.values()) if (now - at > PROBE_TIMEOUT_MS) return false;
    return true;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    if (this.redis.status !== 'ready' || this.subscriber.status !== 'ready') return;
    const channels = this.channels();
    for (const channel of this.heard.keys()) {
      if (channels.includes(channel)) continue;
      // A shard that is no longer one (slots moved): its probe is dropped.
      this.heard.delete(channel);
      const dropped = this.sharded
        ? this.subscriber.sunsubscribe(channel)
        : this.subscriber.unsubscribe(channel);
      dropped.catch(() => {});
    }
    for (const channel of channels) {
      if (!this.heard.has(channel)) {
        // Counted as heard from its subscription on: it has a timeout's time to come back.
        this.heard.set(channel, Date.now());
        const subscribed = this.sharded
          ? this.subscriber.ssubscribe(channel)
          : this.subscriber.subscribe(channel);
        subscribed.catch(() => this.heard.delete(channel));
      }
      const published = this.sharded
        ? this.redis.spublish(channel, '1')
        : this.redis.publish(channel, '1');
      published.catch(() => {});
    }
    const healthy = this.healthy;
    // (A Redis Cluster client follows the slots map instead: it subscribes again on its own.)
    if (!healthy && !this.sharded && Date.now() - this.lastReconnect > RECONNECT_EVERY_MS) {
      this.lastReconnect = Date.now();
      this.logger.warn('room feed probe not heard back: reconnecting the room subscriber');
      this.subscriber.disconnect(true);
    }
    if (healthy && !this.healthyBefore) {
      this.logger.info('room feed probe heard again on every shard');
      this.onRecovered();
    }
    this.healthyBefore = healthy;
  }

  /** One probe channel per shard (per master of the slots map), or one for a single Redis. */
  private channels(): string[] {
    if (!this.sharded) return [probeChannel('all', this.instance)];
    const slots = (this.redis as Cluster).slots;
    const masters = [...new Set(slots.map((owners) => owners?.[0]))]
      .filter((master) => master !== undefined)
      .sort();
    const shards = masters.join(',');
    if (shards === this.shards) return this.current;
    // A tag whose slot each master owns (a few dozen tries for a few shards).
    const tags = new Map<string, string>();
    for (let tag = 0; tags.size < masters.length && tag < 1_000_000; tag++) {
      const master = slots[keySlot(String(tag))]?.[0];
      if (master !== undefined && !tags.has(master)) tags.set(master, String(tag));
    }
    this.shards = shards;
    this.current = [...tags.values()].map((tag) => probeChannel(tag, this.instance));
    return this.current;
  }
}
