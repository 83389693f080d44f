import type { TargetProtocol } from '../targets/target.js';

/**
 * Which client simulates a Socket.IO user: the real `socket.io-client`, the protocol-level raw
 * client, or the project's own client library (`PushClient`: reconnects and recovers by itself).
 */
export type SocketIoClientKind = 'socket.io-client' | 'raw' | 'push-client';

/** One simulated client: where it connects and which rooms it joins. */
export interface ClientSpec {
  url: string;
  protocol: TargetProtocol;
  /** Socket.IO transports (ignored for plain `ws` and the raw client, which use WebSocket). */
  transports: Array<'polling' | 'websocket'>;
  /** For Socket.IO targets: the real `socket.io-client`, or the protocol-level raw client. */
  client: SocketIoClientKind;
  rooms: string[];
  /** The connection token (`auth: { token }`); none connects as a guest. */
  token?: string;
}

/** What every benchmark message carries in `data`. */
export interface BenchPayload {
  seq: number;
  /** Publish time, {@link nowMs} clock. */
  t: number;
  pad: string;
}

/** Coordinator → worker. */
export type ToWorker =
  | { type: 'connect'; clients: ClientSpec[] }
  | { type: 'phase'; maxSeq: number }
  | { type: 'count' }
  | { type: 'collect'; rooms: Array<string | null | undefined> }
  | { type: 'recovery' }
  | { type: 'close' };

/** Worker → coordinator. */
export type FromWorker =
  | { type: 'connected'; ok: number; errors: string[]; connectMs: Float64Array }
  | { type: 'count'; received: number; lastReceiptAt: number }
  | {
      type: 'collected';
      tally: DeliveryTally;
      latencies: Float64Array;
      eventLoopUtilization: number;
    }
  | { type: 'closed'; disconnects: number }
  | {
      type: 'recovery';
      /** Clients that lost their connection and were welcomed again. */
      reconnected: number;
      /** Of them, those that needed more than one attempt, and the most attempts one needed. */
      retried: number;
      maxAttempts: number;
      /** Of those, rooms the server could not recover. */
      notRecovered: number;
      /** Messages missed live and received after the reconnect (the replay). */
      replayed: number;
      /** Failed reconnect attempts, by reason (the server's code, or the transport's reason). */
      connectErrors: Record<string, number>;
      /** When each reconnected client had rejoined and recovered (ms, {@link nowMs} clock). */
      caughtUpAt: Float64Array;
      /** For the same clients, in the same order: when it saw its connection lost, when it was welcomed again. */
      lostAt: Float64Array;
      welcomedAt: Float64Array;
      /** 1 for a long-polling-only client, else 0. */
      polling: Float64Array;
    };

/** Delivery accounting of one phase, per client and message, summed. */
export interface DeliveryTally {
  /** Deliveries that should have happened (client × message for its rooms). */
  expected: number;
  /** Distinct expected deliveries that happened. */
  delivered: number;
  lost: number;
  duplicated: number;
  /** Deliveries to a client not in the message's room. */
  misdelivered: number;
  /** Connections lost during the phase. */
  disconnects: number;
  lastReceiptAt: number;
}

/** Adds tallies from several workers. */
export function addTallies(tallies: DeliveryTally[]): DeliveryTally {
  return tallies.reduce(
    (sum, t) => ({
      expected: sum.expected + t.expected,
      delivered: sum.delivered + t.delivered,
      lost: sum.lost + t.lost,
      duplicated: sum.duplicated + t.duplicated,
      misdelivered: sum.misdelivered + t.misdelivered,
      disconnects: sum.disconnects + t.disconnects,
      lastReceiptAt: Math.max(sum.lastReceiptAt, t.lastReceiptAt),
    }),
    {
      expected: 0,
      delivered: 0,
      lost: 0,
      duplicated: 0,
      misdelivered: 0,
      disconnects: 0,
      lastReceiptAt: 0,
    },
  );
}
