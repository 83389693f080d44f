import type { ErrorCode } from '../protocol/index.js';

/** Where a {@link PushClient}'s connection stands. */
export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

/** The transport Engine.IO currently uses. */
export type TransportName = 'polling' | 'websocket';

/** A snapshot of the connection, passed to status listeners on every change. */
export interface ConnectionStatus {
  state: ConnectionState;
  /** The node serving the connection (from the server's `welcome`); `null` until known. */
  node: string | null;
  /** The connection's user id (`sub`, or `guest-…`), from the `welcome`; `null` until known. */
  user: string | null;
  /** True when the server admitted the connection as a guest. */
  guest: boolean;
  /** `null` while not connected. */
  transport: TransportName | null;
  /** The current reconnection attempt (1, 2, …) while `reconnecting`, else 0. */
  attempt: number;
  /** What last went wrong (a disconnect reason or a connect error), if anything. */
  reason: string | null;
  /** The server's code for what last went wrong (e.g. `token_expired`), when it gave one. */
  code: ErrorCode | null;
}

/** What just happened, for listeners that narrate the connection (e.g. a demo feed). */
export type StatusChange =
  | { kind: 'connected'; node: string; reconnected: boolean }
  | { kind: 'transport'; transport: TransportName }
  | { kind: 'disconnected'; reason: string }
  | { kind: 'reconnecting'; attempt: number }
  | { kind: 'connect_error'; reason: string; code: ErrorCode | null }
  /** The server said why it is closing the connection (`token_expired`, `rate_limited`). */
  | { kind: 'goodbye'; code: ErrorCode; reason: string }
  /** A fresh token was sent before the old one expired (`ok: false`: the server refused it). */
  | { kind: 'token_refreshed'; ok: boolean; reason: string | null }
  /**
   * The rooms were joined again after a reconnect: `recovered` got every message they missed
   * first; for `notRecovered` the history no longer reached back (reload their state).
   */
  | {
      kind: 'resubscribed';
      rooms: string[];
      failed: string[];
      recovered: string[];
      notRecovered: string[];
    }
  /**
   * A room's messages stopped following on while connected: an offset was skipped (`offsets`: the
   * client held what came ahead, asked the node for the rest and handed everything over in order;
   * `recovered: false` when the history no longer reached back), or the room's epoch changed
   * (`epoch`, `recovered: false`: its history started afresh, messages of the old one may be
   * missing). Not recovered: reload the room's state.
   */
  | { kind: 'gap'; room: string; cause: 'offsets' | 'epoch'; recovered: boolean }
  /**
   * The server took the client out of a room (`forbidden`: a refreshed token no longer allows it);
   * the client no longer follows it.
   */
  | { kind: 'unsubscribed'; room: string; code: ErrorCode; reason: string }
  | { kind: 'closed' };
