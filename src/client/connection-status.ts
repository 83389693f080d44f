/** Where a {@link PushClient}'s connection stands. */
export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

/** The transport Engine.IO currently uses. */
export type TransportName = 'polling' | 'websocket';

/** A snapshot of the connection, passed to status listeners on every change. */
export interface ConnectionStatus {
  state: ConnectionState;
  /** The node serving the connection (from the server's `welcome`); `null` until known. */
  node: string | null;
  /** `null` while not connected. */
  transport: TransportName | null;
  /** The current reconnection attempt (1, 2, …) while `reconnecting`, else 0. */
  attempt: number;
  /** What last went wrong (a disconnect reason or a connect error), if anything. */
  reason: string | null;
}

/** What just happened, for listeners that narrate the connection (e.g. a demo feed). */
export type StatusChange =
  | { kind: 'connected'; node: string; reconnected: boolean }
  | { kind: 'transport'; transport: TransportName }
  | { kind: 'disconnected'; reason: string }
  | { kind: 'reconnecting'; attempt: number }
  | { kind: 'connect_error'; reason: string }
  | { kind: 'resubscribed'; rooms: string[]; failed: string[] }
  | { kind: 'closed' };
