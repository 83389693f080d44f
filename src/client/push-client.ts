import { io, type Socket } from 'socket.io-client';
import {
  type AckFailure,
  type ClientToServerEvents,
  type Envelope,
  type ServerToClientEvents,
  SOCKET_PATH,
  type Welcome,
} from '../protocol/index.js';
import type { ConnectionStatus, StatusChange, TransportName } from './connection-status.js';
import { PushError } from './push-error.js';

/** Application events: event name → type of the `data` it carries. */
export type EventMap = Record<string, unknown>;

/** Options of a {@link PushClient}. */
export interface PushClientOptions {
  /**
   * Transports to use, in order. Default `['polling', 'websocket']` (connect over long-polling,
   * then upgrade); `['websocket']` skips polling, `['polling']` never upgrades.
   */
  transports?: TransportName[];
  /** Reconnect after a lost connection, with backoff. Default `true`. */
  reconnection?: boolean;
  /** How long `subscribe`, `unsubscribe` and `publish` wait for the server. Default 10 s. */
  ackTimeoutMs?: number;
  /** Socket.IO path on the server. Default `/socket.io/`. */
  path?: string;
}

/** What {@link PushClient.publish} sends: a room (or none: everyone), an event name and data. */
export interface PublishInput<Events extends EventMap, K extends keyof Events & string> {
  /** Target room; omitted or `null` sends to every connected client. */
  room?: string | null;
  /** Event name subscribers receive; default `message`. */
  event?: K;
  data: Events[K];
}

type StatusListener = (status: ConnectionStatus, change: StatusChange) => void;
/** The Socket.IO client socket, typed with the protocol's events. */
type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const DEFAULT_ACK_TIMEOUT_MS = 10_000;

/**
 * A client of the push cluster for browsers and Node.js, over `socket.io-client`.
 *
 * It keeps the rooms it was asked to join and joins them again after every reconnect (a new
 * connection may land on another node, which knows nothing of the old one's rooms), and it
 * follows the server's `welcome` to say which node serves it.
 *
 * @typeParam Events - the application's events and their payloads, so that a wrong event name or
 * payload is a compile error.
 *
 * @example
 * const client = new PushClient<{ chat: { text: string } }>('https://push.example.com');
 * client.on('chat', (message) => show(message.data.text, message.node));
 * await client.subscribe('lobby');
 * await client.publish({ room: 'lobby', event: 'chat', data: { text: 'hi' } });
 */
export class PushClient<Events extends EventMap = EventMap> {
  private readonly socket: ClientSocket;
  private readonly ackTimeoutMs: number;
  private readonly wanted = new Set<string>();
  private readonly listeners = new Set<StatusListener>();
  private current: ConnectionStatus = {
    state: 'connecting',
    node: null,
    transport: null,
    attempt: 0,
    reason: null,
  };
  private welcomed = false;
  private closed = false;
  private sessionId: string | null = null;
  private readonly firstWelcome: Promise<void>;

  /**
   * Connects at once.
   *
   * @param url - the cluster (e.g. the load balancer's address); omit in a page served by the
   * cluster itself to connect to the page's own origin.
   */
  constructor(url?: string, options: PushClientOptions = {}) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    const socketOptions = {
      transports: options.transports ?? ['polling', 'websocket'],
      reconnection: options.reconnection ?? true,
      path: options.path ?? SOCKET_PATH,
      forceNew: true,
    };
    this.socket = url === undefined ? io(socketOptions) : io(url, socketOptions);
    this.firstWelcome = new Promise((resolve, reject) => {
      this.onStatus((status, change) => {
        if (change.kind === 'connected') resolve();
        else if (status.state === 'disconnected') {
          reject(new PushError('closed', status.reason ?? 'connection closed'));
        }
      });
    });
    // Handled by whoever awaits ready(); never an unhandled rejection.
    this.firstWelcome.catch(() => {});
    this.wire();
  }

  /** The node serving this connection, once the server has said so. */
  get node(): string | null {
    return this.current.node;
  }

  /** This connection's session id (it changes with every reconnect). */
  get sid(): string | null {
    return this.sessionId;
  }

  /** A snapshot of the connection. */
  get status(): ConnectionStatus {
    return { ...this.current };
  }

  /** The rooms this client is in (and will rejoin after a reconnect). */
  get rooms(): ReadonlySet<string> {
    return new Set(this.wanted);
  }

  /** Resolves once connected and welcomed; rejects if the client is closed or refused first. */
  ready(): Promise<void> {
    return this.firstWelcome;
  }

  /**
   * Calls `listener` on every change of the connection, with a snapshot and what happened.
   *
   * @returns a function that removes the listener.
   */
  onStatus(listener: StatusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Calls `handler` with the envelope of every message published under `event` to this client
   * (through a room it is in, or to everyone).
   *
   * @returns a function that removes the handler.
   */
  on<K extends keyof Events & string>(
    event: K,
    handler: (envelope: Envelope<Events[K]>) => void,
  ): () => void {
    const name: string = event;
    // The server sends under `event` what was published under it: the application's own type.
    const listener = (envelope: Envelope) => handler(envelope as Envelope<Events[K]>);
    this.socket.on(name, listener);
    return () => {
      this.socket.off(name, listener);
    };
  }

  /**
   * Calls `handler` for every message this client receives, whatever its event name.
   *
   * @returns a function that removes the handler.
   */
  onAny(handler: (event: string, envelope: Envelope) => void): () => void {
    const listener = (event: string, envelope: Envelope) => {
      if (event !== 'welcome') handler(event, envelope);
    };
    this.socket.onAny(listener);
    return () => {
      this.socket.offAny(listener);
    };
  }

  /**
   * Joins `room` on the serving node; after a reconnect the client joins it again by itself.
   *
   * @throws {@link PushError} with the server's code (e.g. `invalid_room`), `timeout` or `closed`.
   */
  async subscribe(room: string): Promise<void> {
    this.wanted.add(room);
    try {
      const ack = await this.send(() =>
        this.socket.timeout(this.ackTimeoutMs).emitWithAck('subscribe', room),
      );
      if (!ack.ok) throw PushError.from(ack.error);
    } catch (error) {
      this.wanted.delete(room);
      throw error;
    }
  }

  /**
   * Leaves `room`.
   *
   * @throws {@link PushError} with the server's code, `timeout` or `closed`.
   */
  async unsubscribe(room: string): Promise<void> {
    this.wanted.delete(room);
    const ack = await this.send(() =>
      this.socket.timeout(this.ackTimeoutMs).emitWithAck('unsubscribe', room),
    );
    if (!ack.ok) throw PushError.from(ack.error);
  }

  /**
   * Publishes through the serving node to `room` on every node (or to everyone).
   *
   * @returns the message id, as subscribers will see it in `envelope.id`.
   * @throws {@link PushError} with the server's code (e.g. `payload_too_large`), `timeout` or
   * `closed`.
   */
  async publish<K extends keyof Events & string>(input: PublishInput<Events, K>): Promise<string> {
    const ack = await this.send(() =>
      this.socket.timeout(this.ackTimeoutMs).emitWithAck('publish', input),
    );
    if (!ack.ok) throw PushError.from(ack.error);
    return ack.id;
  }

  /** Disconnects for good; pending requests reject with `closed`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    this.update({ state: 'disconnected', transport: null, reason: 'closed' }, { kind: 'closed' });
  }

  private async send<T extends { ok: true } | AckFailure>(request: () => Promise<T>): Promise<T> {
    if (this.closed) throw new PushError('closed', 'the client is closed');
    try {
      return await request();
    } catch (error) {
      if (this.closed) throw new PushError('closed', 'the client is closed');
      const reason = error instanceof Error ? error.message : String(error);
      throw new PushError(
        'timeout',
        `no answer from the server within ${this.ackTimeoutMs} ms (${reason})`,
      );
    }
  }

  private wire(): void {
    const socket = this.socket;
    socket.on('connect', () => {
      const engine = socket.io.engine;
      this.update({ transport: engine.transport.name as TransportName }, undefined);
      engine.once('upgrade', (transport: { name: string }) => {
        const name = transport.name as TransportName;
        this.update({ transport: name }, { kind: 'transport', transport: name });
      });
    });
    socket.on('welcome', (welcome: Welcome) => {
      const reconnected = this.welcomed;
      this.welcomed = true;
      this.sessionId = welcome.sid;
      this.update(
        { state: 'connected', node: welcome.node, attempt: 0, reason: null },
        { kind: 'connected', node: welcome.node, reconnected },
      );
      if (reconnected && this.wanted.size > 0) void this.resubscribe();
    });
    socket.on('disconnect', (reason) => {
      if (this.closed) return;
      this.update(
        { state: socket.active ? 'reconnecting' : 'disconnected', transport: null, reason },
        { kind: 'disconnected', reason },
      );
    });
    socket.on('connect_error', (error) => {
      if (this.closed) return;
      const state = socket.active
        ? this.welcomed
          ? 'reconnecting'
          : 'connecting'
        : 'disconnected';
      this.update(
        { state, reason: error.message },
        { kind: 'connect_error', reason: error.message },
      );
    });
    socket.io.on('reconnect_attempt', (attempt) => {
      if (this.closed) return;
      this.update({ state: 'reconnecting', attempt }, { kind: 'reconnecting', attempt });
    });
  }

  /** Joins every wanted room again on the new connection; rooms the server refuses are dropped. */
  private async resubscribe(): Promise<void> {
    const rooms = [...this.wanted];
    const results = await Promise.allSettled(
      rooms.map((room) => this.socket.timeout(this.ackTimeoutMs).emitWithAck('subscribe', room)),
    );
    const failed: string[] = [];
    results.forEach((result, index) => {
      const room = rooms[index] as string;
      if (result.status === 'fulfilled' && result.value.ok) return;
      failed.push(room);
      // Refused by the server: gone. Timed out: kept, and tried again at the next reconnect.
      if (result.status === 'fulfilled') this.wanted.delete(room);
    });
    if (this.closed) return;
    this.emitChange({
      kind: 'resubscribed',
      rooms: rooms.filter((room) => !failed.includes(room)),
      failed,
    });
  }

  private update(patch: Partial<ConnectionStatus>, change: StatusChange | undefined): void {
    this.current = { ...this.current, ...patch };
    if (change !== undefined) this.emitChange(change);
  }

  private emitChange(change: StatusChange): void {
    const snapshot = this.status;
    for (const listener of this.listeners) listener(snapshot, change);
  }
}
