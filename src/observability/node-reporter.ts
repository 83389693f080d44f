import type { NodeReport, RoomCount } from '../protocol/index.js';
import type { NodeMetrics, NodeState } from './metrics.js';

/** The shortest time rates are averaged over. */
const RATE_WINDOW_MS = 1_500;
/** The most rooms a node lists in its report: its largest. */
export const REPORTED_ROOMS = 200;

/** What a node's report is read from, besides its metrics. */
export interface ReportedState extends NodeState {
  /** Its `limit` largest rooms, most members first, and whether it has more. */
  topRooms(limit: number): { rooms: RoomCount[]; truncated: boolean };
  /** True once the node is leaving the cluster. */
  isDraining(): boolean;
}

/**
 * Makes this node's reports for the cluster overview: figures read at the moment, rates
 * averaged over the latest window of at least 1.5 s (a node files a report every 2 s, each one
 * closing a window; reports asked for in between repeat the rates of the last one).
 */
export class NodeReporter {
  private readonly startedAt = Date.now();
  private last: { at: number; published: number; delivered: number };
  private rates = { published: 0, delivered: 0 };

  constructor(
    private readonly node: string,
    private readonly instance: string,
    private readonly state: ReportedState,
    private readonly metrics: NodeMetrics,
  ) {
    this.last = { at: this.startedAt, published: 0, delivered: 0 };
  }

  /** A report as of now. */
  readonly report = async (): Promise<NodeReport> => {
    const at = Date.now();
    if (at - this.last.at >= RATE_WINDOW_MS) {
      const [published, delivered] = await Promise.all([
        total(this.metrics.published),
        total(this.metrics.delivered),
      ]);
      const seconds = (at - this.last.at) / 1000;
      this.rates = {
        published: round((published - this.last.published) / seconds),
        delivered: round((delivered - this.last.delivered) / seconds),
      };
      this.last = { at, published, delivered };
    }
    const byTransport = this.state.connectionsByTransport();
    const websocket = byTransport.websocket ?? 0;
    const polling = byTransport.polling ?? 0;
    const { rooms, subscriptions } = this.state.rooms();
    const top = this.state.topRooms(REPORTED_ROOMS);
    return {
      node: this.node,
      instance: this.instance,
      startedAt: this.startedAt,
      reportedAt: at,
      state: this.state.isDraining() ? 'draining' : this.state.redisUp() ? 'ready' : 'redis_down',
      connections: { total: websocket + polling, websocket, polling },
      rooms,
      subscriptions,
      rates: this.rates,
      topRooms: top.rooms,
      roomsTruncated: top.truncated,
    };
  };
}

/** The sum of a counter's series. */
async function total(counter: { get(): Promise<{ values: { value: number }[] }> }) {
  const { values } = await counter.get();
  return values.reduce((sum, { value }) => sum + value, 0);
}

const round = (value: number) => Math.round(value * 10) / 10;
