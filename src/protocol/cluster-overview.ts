/** A room and how many connections are subscribed to it. */
export interface RoomCount {
  room: string;
  members: number;
}

/**
 * What one node says about itself, every few seconds (`GET /api/cluster`, the admin page).
 * Rates are averaged over the interval since its previous report.
 */
export interface NodeReport {
  /** `NODE_ID`. */
  node: string;
  /** This run of the node (`<NODE_ID>:<random>`, new at every start). */
  instance: string;
  /** When the process started, ms since the epoch. */
  startedAt: number;
  /** When this report was made, ms since the epoch (the node's clock). */
  reportedAt: number;
  /** `ready`, `draining` (leaving the cluster) or `redis_down` (its clients kept, not shared). */
  state: 'ready' | 'draining' | 'redis_down';
  /** Open connections, in all and by transport. */
  connections: { total: number; websocket: number; polling: number };
  /** Subscriber rooms on this node (users' own rooms aside) and subscriptions in them. */
  rooms: number;
  subscriptions: number;
  /** Per second: messages accepted on this node (socket and HTTP) and handed to its subscribers. */
  rates: { published: number; delivered: number };
  /** Its largest rooms, most members first; `roomsTruncated` when it has more than listed. */
  topRooms: RoomCount[];
  roomsTruncated: boolean;
}

/** A node in the cluster overview: its latest report and how old it is. */
export interface NodeStatus extends NodeReport {
  /** Age of the report when the overview was made, ms. */
  ageMs: number;
  /**
   * No fresh report: the node died, is cut off from Redis, or is stuck. Its figures are its last
   * known ones and its rooms are not counted; it drops out once its report expires.
   */
  stale: boolean;
}

/** `GET /api/cluster`: every node and the rooms, cluster-wide. */
export interface ClusterOverview {
  /** The node that answered. */
  node: string;
  /** When the overview was made, ms since the epoch. */
  at: number;
  /**
   * True when some of it is missing or old: a node's report is stale, or Redis could not be read
   * in time (then only the answering node is listed). `problems` says what.
   */
  partial: boolean;
  problems: string[];
  nodes: NodeStatus[];
  /** Sums over the fresh nodes. */
  totals: {
    nodes: number;
    connections: number;
    subscriptions: number;
    rates: { published: number; delivered: number };
  };
  /**
   * Rooms with their member counts summed over the fresh nodes, most members first; only the
   * largest of each node are reported, `roomsTruncated` says some were left out.
   */
  rooms: RoomCount[];
  roomsTruncated: boolean;
}
