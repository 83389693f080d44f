import { io, type Socket } from 'socket.io-client';
import {
  type AckFailure,
  type ClientToServerEvents,
  type Envelope,
  type PresenceEvent,
  type ProtocolError,
  type PublishAck,
  type PublishRequest,
  type RoomAck,
  type RoomPosition,
  type ServerToClientEvents,
  SOCKET_PATH,
  type Welcome,
} from '../protocol/index.js';
import type { ConnectionStatus, StatusChange, TransportName } from './connection-status.js';
import { PushError } from './push-error.js';
import { readToken, refreshDelay, type TokenSource, tokenExpiry } from './token-source.js';

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
  /**
   * The connection token (a JWT from your backend): a string, or a function called before every
   * connection attempt and again before the token expires (the fresh token is sent with
   * `refresh`, so the connection stays open). Omit to connect as a guest, where the cluster
   * allows guests.
   */
  token?: TokenSource;
}

/** What {@link PushClient.publish} sends: a room (or none: everyone), an event name and data. */
export interface PublishInput<Events extends EventMap, K extends keyof Events & string> {
  /** Target room; omitted or `null` sends to every connected client. */
  room?: string | null;
  /** Event name subscribers receive; default `message`. */
  event?: K;
  data: Events[K];
  /**
   * For a room message: publishing again with the same key (within 10 minutes) does not publish
   * it twice, e.g. after a `timeout` whose publish may have gone through.
   */
  idempotencyKey?: string;
}

type StatusListener = (status: ConnectionStatus, change: StatusChange) => void;
/** A `connect_error` as Socket.IO hands it over: a server's refusal carries `data`. */
type ConnectError = Error & { data?: Partial<ProtocolError> };
/** The Socket.IO client socket, typed with the protocol's events. */
type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const DEFAULT_ACK_TIMEOUT_MS = 10_000;
/**
 * Refusals and cut-offs after which the client connects again by itself, with backoff: with a
 * token function a fresh token may be accepted; the others pass. Any other refusal is final.
 */
const RETRIED_WITH_TOKEN_FUNCTION: ReadonlySet<string> = new Set([
  'token_expired',
  'token_invalid',
]);
const RETRIED_ALWAYS: ReadonlySet<string> = new Set([
  'unavailable',
  'too_many_connections',
  'rate_limited',
  'slow_consumer',
  'internal',
]);
const MAX_RETRY_DELAY_MS = 30_000;
/** How long after a refused refresh the client asks its token function again. */
const REFRESH_RETRY_MS = 5_000;

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
  /** Per room, the last offset received (or acknowledged) and its epoch: where to recover from. */
  private readonly positions = new Map<string, RoomPosition>();
  private readonly handlers = new Map<string, Set<(envelope: Envelope) => void>>();
  private readonly anyHandlers = new Set<(event: string, envelope: Envelope) => void>();
  private readonly presenceHandlers = new Set<(change: PresenceEvent) => void>();
  private readonly listeners = new Set<StatusListener>();
  private current: ConnectionStatus = {
    state: 'connecting',
    node: null,
    user: null,
    guest: false,
    transport: null,
    attempt: 0,
    reason: null,
    code: null,
  };
  private welcomed = false;
  private closed = false;
  private sessionId: string | null = null;
  private readonly firstWelcome: Promise<void>;
  private readonly token: TokenSource | undefined;
  /** The token of the current connection (or of its last refresh). */
  private currentToken: string | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;

  /**
   * Connects at once.
   *
   * @param url - the cluster (e.g. the load balancer's address); omit in a page served by the
   * cluster itself to connect to the page's own origin.
   */
  constructor(url?: string, options: PushClientOptions = {}) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    this.token = options.token;
    const socketOptions = {
      transports: options.transports ?? ['polling', 'websocket'],
      reconnection: options.reconnection ?? true,
      path: options.path ?? SOCKET_PATH,
      forceNew: true,
      // Called before every connection attempt: a token function is asked afresh each time.
      auth: (send: (auth: { token?: string }) => void) => {
        const source = this.token;
        if (source === undefined) {
          send({});
          return;
        }
        readToken(source).then(
          (token) => {
            this.currentToken = token;
            send({ token });
          },
          (error: unknown) => {
            // Never a silent guest: an unusable token is refused (token_invalid), then retried.
            this.currentToken = undefined;
            this.update({ reason: `the token function failed: ${String(error)}` }, undefined);
            send({ token: 'unavailable' });
          },
        );
      },
    };
    this.socket = url === undefined ? io(socketOptions) : io(url, socketOptions);
    this.firstWelcome = new Promise((resolve, reject) => {
      this.onStatus((status, change) => {
        if (change.kind === 'connected') resolve();
        else if (status.state === 'disconnected') {
          reject(new PushError(status.code ?? 'closed', status.reason ?? 'connection closed'));
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

  /** The connection's user id (the token's `sub`, or `guest-…`), once the server has said so. */
  get user(): string | null {
    return this.current.user;
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

  /** Where this client stands in `room`: the last offset it has, in the room's epoch. */
  position(room: string): RoomPosition | undefined {
    const known = this.positions.get(room);
    return known === undefined ? undefined : { ...known };
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
   * (through a room it is in, or to everyone), once each: a room message already received (a
   * replay overlapping what arrived live) is dropped by its offset.
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
    let forEvent = this.handlers.get(name);
    if (forEvent === undefined) {
      forEvent = new Set();
      this.handlers.set(name, forEvent);
    }
    forEvent.add(listener);
    return () => {
      forEvent.delete(listener);
    };
  }

  /**
   * Calls `handler` for every message this client receives, whatever its event name.
   *
   * @returns a function that removes the handler.
   */
  onAny(handler: (event: string, envelope: Envelope) => void): () => void {
    this.anyHandlers.add(handler);
    return () => {
      this.anyHandlers.delete(handler);
    };
  }

  /**
   * Calls `handler` when a user arrives in or leaves a presence room this client is in.
   *
   * @returns a function that removes the handler.
   */
  onPresence(handler: (change: PresenceEvent) => void): () => void {
    this.presenceHandlers.add(handler);
    return () => {
      this.presenceHandlers.delete(handler);
    };
  }

  /**
   * The users in a presence room (`PRESENCE_ROOMS`), each once, guests included.
   *
   * @throws {@link PushError} with the server's code (`forbidden`, `bad_request` for a room without
   * presence, …), `timeout` or `closed`.
   */
  async presence(room: string): Promise<string[]> {
    const ack = await this.send(() =>
      this.socket.timeout(this.ackTimeoutMs).emitWithAck('presence', room),
    );
    if (!ack.ok) throw PushError.from(ack.error);
    return ack.users;
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
      this.advance(room, ack);
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
    this.positions.delete(room);
    const ack = await this.send(() =>
      this.socket.timeout(this.ackTimeoutMs).emitWithAck('unsubscribe', room),
    );
    if (!ack.ok) throw PushError.from(ack.error);
  }

  /**
   * Publishes through the serving node to `room` on every node (or to everyone).
   *
   * A room message goes with an idempotency key (`input.idempotencyKey`, or one made here) and,
   * when the connection drops before the answer, is sent again on the next connection, whichever
   * node that is: published once, whether or not the first attempt got through. A message to
   * everyone is sent once (at most once).
   *
   * @returns the message id, as subscribers will see it in `envelope.id`.
   * @throws {@link PushError} with the server's code (e.g. `payload_too_large`), `timeout` (no
   * answer within `ackTimeoutMs`, reconnects included) or `closed`.
   */
  async publish<K extends keyof Events & string>(input: PublishInput<Events, K>): Promise<string> {
    const toRoom = input.room !== undefined && input.room !== null;
    const request =
      toRoom && input.idempotencyKey === undefined
        ? { ...input, idempotencyKey: randomKey() }
        : input;
    const ack = await this.send(() => this.emitUntilAnswered(request, toRoom));
    if (!ack.ok) throw PushError.from(ack.error);
    return ack.id;
  }

  /** Disconnects for good; pending requests reject with `closed`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.refreshTimer);
    clearTimeout(this.retryTimer);
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

  /**
   * Emits `publish` and waits for its answer up to `ackTimeoutMs`; with `again`, emits it once
   * more after every disconnect meanwhile (Socket.IO sends it when the next connection is up).
   */
  private emitUntilAnswered(request: PublishRequest, again: boolean): Promise<PublishAck> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = () => {
        settled = true;
        clearTimeout(timer);
        this.socket.off('disconnect', onDisconnect);
      };
      const emit = () =>
        this.socket.emit('publish', request, (ack) => {
          if (settled) return;
          settle();
          resolve(ack);
        });
      const onDisconnect = () => {
        if (again) emit();
      };
      const timer = setTimeout(() => {
        settle();
        reject(new Error('operation has timed out'));
      }, this.ackTimeoutMs);
      this.socket.on('disconnect', onDisconnect);
      emit();
    });
  }

  /** Every message, once: room messages at or below the room's known offset are duplicates. */
  private receive(event: string, envelope: Envelope): void {
    const { room, offset, epoch } = envelope;
    if (room !== null && typeof offset === 'number' && typeof epoch === 'string') {
      const known = this.positions.get(room);
      if (known !== undefined && known.epoch === epoch && offset <= known.offset) return;
      // A live message in another epoch (the room's history started afresh) moves the client on.
      this.positions.set(room, { offset, epoch });
    }
    for (const handler of this.handlers.get(event) ?? []) handler(envelope);
    for (const handler of this.anyHandlers) handler(event, envelope);
  }

  /** Takes the room position a subscribe acknowledged, unless the client is already further. */
  private advance(room: string, ack: RoomAck): void {
    if (!ack.ok || ack.offset === undefined || ack.epoch === undefined) return;
    const known = this.positions.get(room);
    if (known === undefined || known.epoch !== ack.epoch || known.offset < ack.offset) {
      this.positions.set(room, { offset: ack.offset, epoch: ack.epoch });
    }
  }

  private wire(): void {
    const socket = this.socket;
    socket.on('presence', (change: PresenceEvent) => {
      for (const handler of this.presenceHandlers) handler(change);
    });
    socket.onAny((event: string, envelope: Envelope) => {
      if (event !== 'welcome' && event !== 'goodbye' && event !== 'presence') {
        this.receive(event, envelope);
      }
    });
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
      this.retries = 0;
      this.sessionId = welcome.sid;
      this.update(
        {
          state: 'connected',
          node: welcome.node,
          user: welcome.user,
          guest: welcome.guest,
          attempt: 0,
          reason: null,
          code: null,
        },
        { kind: 'connected', node: welcome.node, reconnected },
      );
      this.scheduleRefresh();
      if (reconnected && this.wanted.size > 0) void this.resubscribe();
    });
    socket.on('goodbye', (goodbye: ProtocolError) => {
      if (this.closed) return;
      this.update(
        { reason: goodbye.message, code: goodbye.code },
        { kind: 'goodbye', code: goodbye.code, reason: goodbye.message },
      );
    });
    socket.on('disconnect', (reason) => {
      if (this.closed) return;
      clearTimeout(this.refreshTimer);
      // The server closed it (after a goodbye): Socket.IO leaves that to the application.
      const retrying = !socket.active && this.retryAfter(this.current.code);
      this.update(
        {
          state: socket.active || retrying ? 'reconnecting' : 'disconnected',
          transport: null,
          reason: this.current.code === null ? reason : this.current.reason,
        },
        { kind: 'disconnected', reason },
      );
    });
    socket.on('connect_error', (error: ConnectError) => {
      if (this.closed) return;
      const code = error.data?.code ?? null;
      // A refusal by the server is final for Socket.IO (it does not reconnect by itself).
      const retrying = !socket.active && this.retryAfter(code);
      const state =
        socket.active || retrying
          ? this.welcomed
            ? 'reconnecting'
            : 'connecting'
          : 'disconnected';
      this.update(
        { state, reason: error.message, code },
        { kind: 'connect_error', reason: error.message, code },
      );
    });
    socket.io.on('reconnect_attempt', (attempt) => {
      if (this.closed) return;
      this.update({ state: 'reconnecting', attempt }, { kind: 'reconnecting', attempt });
    });
  }

  /**
   * Connects again after a backoff when the server's refusal (or goodbye) `code` is one the client
   * can outlast; returns whether it will.
   */
  private retryAfter(code: string | null): boolean {
    if (this.closed || code === null) return false;
    const retried =
      RETRIED_ALWAYS.has(code) ||
      (typeof this.token === 'function' && RETRIED_WITH_TOKEN_FUNCTION.has(code));
    if (!retried) return false;
    const delay = Math.min(MAX_RETRY_DELAY_MS, 500 * 2 ** this.retries) * (0.5 + Math.random() / 2);
    this.retries += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (!this.closed) this.socket.connect();
    }, delay);
    return true;
  }

  /** With a token function, sends a fresh token before the current one expires. */
  private scheduleRefresh(delay?: number): void {
    clearTimeout(this.refreshTimer);
    if (typeof this.token !== 'function' || this.currentToken === undefined) return;
    const expiresAt = tokenExpiry(this.currentToken);
    if (expiresAt === undefined) return;
    this.refreshTimer = setTimeout(() => void this.refresh(), delay ?? refreshDelay(expiresAt));
  }

  private async refresh(): Promise<void> {
    const source = this.token;
    if (this.closed || typeof source !== 'function') return;
    let reason: string | null = null;
    try {
      const token = await readToken(source);
      const ack = await this.socket.timeout(this.ackTimeoutMs).emitWithAck('refresh', token);
      if (ack.ok) {
        this.currentToken = token;
        this.emitChange({ kind: 'token_refreshed', ok: true, reason: null });
        this.scheduleRefresh();
        return;
      }
      reason = `${ack.error.code}: ${ack.error.message}`;
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
    if (this.closed) return;
    this.emitChange({ kind: 'token_refreshed', ok: false, reason });
    // Tried again until the old token expires; then the server ends the connection, and the
    // reconnection asks the token function again.
    this.scheduleRefresh(REFRESH_RETRY_MS);
  }

  /**
   * Joins every wanted room again on the new connection (perhaps another node), each `since`
   * where the client left it: the node first replays what was missed, when the room's history
   * still reaches back (`recovered`), else the application should reload that room's state
   * (`notRecovered`). Rooms the server refuses are dropped.
   */
  private async resubscribe(): Promise<void> {
    const rooms = [...this.wanted];
    const results = await Promise.allSettled(
      rooms.map((room) => {
        const since = this.positions.get(room);
        const request = this.socket.timeout(this.ackTimeoutMs);
        return since === undefined
          ? request.emitWithAck('subscribe', room)
          : request.emitWithAck('subscribe', room, { since });
      }),
    );
    const failed: string[] = [];
    const recovered: string[] = [];
    const notRecovered: string[] = [];
    results.forEach((result, index) => {
      const room = rooms[index] as string;
      if (result.status === 'fulfilled' && result.value.ok) {
        const ack = result.value;
        if (ack.recovered === true) recovered.push(room);
        else if (ack.recovered === false) notRecovered.push(room);
        this.advance(room, ack);
        return;
      }
      failed.push(room);
      // Refused by the server: gone. Timed out: kept, and tried again at the next reconnect.
      if (result.status === 'fulfilled') {
        this.wanted.delete(room);
        this.positions.delete(room);
      }
    });
    if (this.closed) return;
    this.emitChange({
      kind: 'resubscribed',
      rooms: rooms.filter((room) => !failed.includes(room)),
      failed,
      recovered,
      notRecovered,
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

/** A random idempotency key (32 hex digits); `getRandomValues` works on plain-HTTP pages too. */
function randomKey(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
