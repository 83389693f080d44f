import { io, type ManagerOptions, type Socket } from 'socket.io-client';
import {
  type AckFailure,
  type ClientToServerEvents,
  type Envelope,
  type HandshakeAuth,
  type HandshakeRoom,
  MAX_HANDSHAKE_ROOMS,
  type PresenceEvent,
  type ProtocolError,
  type PublishAck,
  type PublishRequest,
  type RoomAck,
  type RoomPosition,
  type ServerToClientEvents,
  SOCKET_PATH,
  type Unsubscribed,
  USER_ROOM_PREFIX,
  type Welcome,
} from '../protocol/index.js';
import { backoffDelay } from './backoff.js';
import type { ConnectionStatus, StatusChange, TransportName } from './connection-status.js';
import { type JoinCause, type JoinRound, JoinRounds } from './join-rounds.js';
import { PushError } from './push-error.js';
import { type RejoinOutcome, type ResubscribedChange, Resubscription } from './resubscription.js';
import { type RoomArrival, RoomSequence, type SequenceStep } from './room-sequence.js';
import { SubscribeWaiters } from './subscribe-waiters.js';
import { readToken, refreshDelay, type TokenSource, tokenExpiry } from './token-source.js';

/** Application events: event name → type of the `data` it carries. */
export type EventMap = Record<string, unknown>;

/** An engine.io-client transport class (Node.js), as Socket.IO takes it. */
type TransportClass = Exclude<NonNullable<ManagerOptions['transports']>[number], string>;
/** Transports as Socket.IO takes them: names, or (Node.js) engine.io-client transport classes. */
export type Transports = TransportName[] | TransportClass[];

/** Options of a {@link PushClient}. */
export interface PushClientOptions {
  /**
   * Transports to try, in order. Default `['websocket', 'polling']`: WebSocket (one round trip),
   * long-polling within the same attempt when it fails. `['polling', 'websocket']` connects over
   * long-polling and then upgrades (as plain Socket.IO does; after one upgrade the client
   * reconnects over WebSocket first); `['polling']` never upgrades. In Node.js, engine.io-client
   * transport classes may stand for the names (as Socket.IO allows), e.g. a long-polling of your
   * own: `[NodeWebSocket, MyPolling]`.
   */
  transports?: Transports;
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
  /**
   * Node.js only: the `http.Agent` for long-polling requests, e.g. `new Agent({ keepAlive: true })`
   * to keep connections open between polls as browsers do (by default each poll opens one).
   */
  agent?: object;
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
/** Refusals of a `subscribe` that pass: the client asks again after a backoff. */
const JOIN_RETRIED: ReadonlySet<string> = new Set(['unavailable', 'rate_limited', 'internal']);
/** The longest wait between two connection attempts the client makes itself (after a refusal). */
const MAX_RETRY_DELAY_MS = 30_000;
/** A node's event budget when its welcome does not say (the defaults of CLIENT_EVENT_RATE/_BURST). */
const DEFAULT_EVENT_BUDGET = { rate: 20, burst: 50 };
/** Socket.IO's reconnection backoff: its first step, and how far each step is spread (±90 %). */
const RECONNECT_DELAY_MS = 500;
const RECONNECT_JITTER = 0.9;
/** How long after a refused refresh the client asks its token function again. */
const REFRESH_RETRY_MS = 5_000;

/**
 * A client of the push cluster for browsers and Node.js, over `socket.io-client`.
 *
 * It keeps the rooms it was asked to join and joins them again after every reconnect (a new
 * connection may land on another node, which knows nothing of the old one's rooms), and it
 * follows the server's `welcome` to say which node serves it.
 *
 * Room messages reach the application once each, in offset order, or the application is told:
 * the client follows every room's offsets, and when one is skipped (or the room's epoch changes)
 * it holds what arrived ahead, asks the node for what is missing (`subscribe` since its last
 * offset, on the live connection) and then hands everything over in order; when the history no
 * longer reaches back it says so (`notRecovered`, or a `gap` change with `recovered: false`).
 * A `subscribe` the node does not answer is sent again, with a growing wait, until it is.
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
  /** Per room followed (the wanted ones, and the user's own room), where it stands. */
  private readonly sequences = new Map<string, RoomSequence>();
  /** Per room, the `subscribe` outstanding on the current connection. */
  private readonly joins: JoinRounds;
  /** The rooms the latest connection attempt asked to join in its handshake (left since: out). */
  private offered: HandshakeRoom[] = [];
  /** Every room the latest handshake asked for, as sent. */
  private asked: readonly string[] = [];
  private readonly waiters: SubscribeWaiters;
  private resubscription: Resubscription | undefined;
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
  /** Welcomed on the current connection, and not disconnected since. */
  private live = false;
  private closed = false;
  private sessionId: string | null = null;
  /** The room every connection of this user is in (`user:<id>`); `undefined` for a guest. */
  private ownRoom: string | undefined;
  private readonly firstWelcome: Promise<void>;
  private readonly token: TokenSource | undefined;
  /** The token of the current connection (or of its last refresh). */
  private currentToken: string | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;
  /** The transports of the next connection, in the order tried. */
  private transports: Transports;

  /**
   * Connects at once.
   *
   * @param url - the cluster (e.g. the load balancer's address); omit in a page served by the
   * cluster itself to connect to the page's own origin.
   */
  constructor(url?: string, options: PushClientOptions = {}) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    this.waiters = new SubscribeWaiters(this.ackTimeoutMs);
    this.joins = new JoinRounds(this.ackTimeoutMs, (room, round) => this.emitJoin(room, round));
    this.token = options.token;
    // A copy: the order changes once WebSocket has worked.
    this.transports = (options.transports?.slice() ?? ['websocket', 'polling']) as Transports;
    const socketOptions = {
      transports: this.transports,
      // A failed first transport falls back to the next within the same attempt.
      tryAllTransports: true,
      // The first attempt after a lost connection comes within a second, spread evenly over it
      // (50–950 ms), so that the clients of a node that died come back fast but not all at once.
      reconnectionDelay: RECONNECT_DELAY_MS,
      randomizationFactor: RECONNECT_JITTER,
      // Socket.IO's typings say string | boolean; its Node.js transport takes an http.Agent.
      ...(options.agent === undefined ? {} : { agent: options.agent as unknown as boolean }),
      reconnection: options.reconnection ?? true,
      path: options.path ?? SOCKET_PATH,
      forceNew: true,
      // Called before every connection attempt: a token function is asked afresh each time.
      // The rooms to rejoin go with it: the node answers them (with what was missed) in its
      // `welcome`, without a round trip of their own.
      auth: (send: (auth: HandshakeAuth) => void) => {
        const source = this.token;
        const rooms = this.handshakeRooms();
        if (source === undefined) {
          send({ rooms });
          return;
        }
        readToken(source).then(
          (token) => {
            this.currentToken = token;
            send({ token, rooms });
          },
          (error: unknown) => {
            // Never a silent guest: an unusable token is refused (token_invalid), then retried.
            this.currentToken = undefined;
            this.update({ reason: `the token function failed: ${String(error)}` }, undefined);
            send({ token: 'unavailable', rooms });
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

  /** Where this client stands in `room`: the last offset it handed over, in the room's epoch. */
  position(room: string): RoomPosition | undefined {
    return this.sequences.get(room)?.position;
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
   * (through a room it is in, or to everyone), once each and, per room, in offset order.
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
   * Joins `room` on the serving node; after a reconnect the client joins it again by itself. The
   * client keeps asking until the node answers: a `timeout` rejection (no answer within
   * `ackTimeoutMs`) leaves the room in {@link rooms}, still being joined; `unsubscribe` stops it.
   *
   * @throws {@link PushError} with the server's code (e.g. `invalid_room`, `forbidden`: the room is
   * dropped), `timeout`, `unsubscribed` (`unsubscribe` came first) or `closed`.
   */
  subscribe(room: string): Promise<void> {
    if (this.closed) return Promise.reject(new PushError('closed', 'the client is closed'));
    this.wanted.add(room);
    if (!this.sequences.has(room)) this.sequences.set(room, new RoomSequence());
    const joined = this.waiters.wait(room);
    this.join(room, 'subscribe');
    return joined;
  }

  /**
   * Leaves `room`.
   *
   * @throws {@link PushError} with the server's code, `timeout` or `closed`.
   */
  async unsubscribe(room: string): Promise<void> {
    this.forget(room, new PushError('unsubscribed', `unsubscribe(${room}) was called`));
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
    this.abandonJoins();
    this.waiters.settleAll(new PushError('closed', 'the client is closed'));
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

  /**
   * Joins `room` on the current connection, `since` where the client stands in it (if anywhere),
   * unless a join of it is already outstanding (its answer will do). Not connected: the next
   * `welcome` joins every wanted room.
   */
  private join(room: string, cause: JoinCause): void {
    if (!this.live || this.closed) return;
    const sequence = this.sequences.get(room);
    if (sequence === undefined) return;
    const round = this.joins.open(room, cause);
    if (round === undefined) return;
    sequence.joinSent();
    this.joins.send(room, round);
  }

  /** Sends `room`'s `subscribe` for `round`, since where the client stands in it. */
  private emitJoin(room: string, round: JoinRound): void {
    const since = this.sequences.get(room)?.position;
    const answered = (ack: RoomAck) => this.joinAnswered(room, round, ack);
    // What was missed comes in the answer, in one packet (cheaper for both ends in a storm).
    if (since === undefined) this.socket.emit('subscribe', room, answered);
    else this.socket.emit('subscribe', room, { since, batch: true }, answered);
  }

  private joinAnswered(room: string, round: JoinRound, ack: RoomAck): void {
    if (!this.joins.isOpen(room, round) || this.closed) return;
    const sequence = this.sequences.get(room);
    if (sequence === undefined) {
      this.joins.close(room);
      return;
    }
    if (!ack.ok) {
      if (JOIN_RETRIED.has(ack.error.code)) {
        // The node could not serve it just now (Redis, its event rate): asked again later.
        this.joins.retryLater(room, round);
        return;
      }
      this.joins.close(room);
      sequence.joinAbandoned();
      this.resubscribed(room, 'failed');
      this.forget(room, PushError.from(ack.error));
      return;
    }
    this.joins.close(room);
    for (const replayed of ack.messages ?? []) this.hand(sequence.receive(replayed));
    const step = sequence.joined(ack);
    this.hand(step);
    this.waiters.settle(room);
    // Whatever sent it (a `subscribe` call made while the rooms are being rejoined answers for
    // that room too): a room being rejoined is reported.
    this.resubscribed(
      room,
      step.recovered === true ? 'recovered' : step.recovered === false ? 'notRecovered' : 'joined',
    );
    if (round.cause !== 'subscribe' && round.cause !== 'resubscribe') {
      this.emitChange({
        kind: 'gap',
        room,
        cause: round.cause,
        recovered: step.recovered !== false,
      });
    }
    if (step.gap !== undefined) this.join(room, step.gap);
  }

  /** Stops following `room`: no more joins, its waiters rejected with `reason`. */
  private forget(room: string, reason: PushError): void {
    this.wanted.delete(room);
    // Not joined from a handshake already sent either: should the room be wanted again before
    // that connection's welcome, the node may have taken it out since (this unsubscribe), so it
    // is subscribed afresh.
    this.offered = this.offered.filter((offer) => offer.room !== room);
    this.sequences.delete(room);
    this.joins.close(room);
    this.waiters.settle(room, reason);
    this.tellResubscribed(this.resubscription?.drop(room));
  }

  /** The connection is gone: its joins will never be answered; the next `welcome` starts anew. */
  private abandonJoins(): void {
    for (const room of this.joins.abandon()) this.sequences.get(room)?.joinAbandoned();
    this.resubscription = undefined;
  }

  /** Notes how rejoining `room` after a reconnect went; says it once every room has answered. */
  private resubscribed(room: string, outcome: RejoinOutcome): void {
    this.tellResubscribed(this.resubscription?.settle(room, outcome));
  }

  private tellResubscribed(change: ResubscribedChange | undefined): void {
    if (change === undefined) return;
    this.resubscription = undefined;
    this.emitChange(change);
  }

  /** A message from the node: to everyone at once; a room's in its offset order, or told. */
  private receive(event: string, envelope: Envelope): void {
    const { room } = envelope;
    if (room === null || room === undefined) {
      this.deliver({ event, envelope });
      return;
    }
    let sequence = this.sequences.get(room);
    if (sequence === undefined) {
      // Rooms this client left (a message was already on its way) are not handed over.
      if (room !== this.ownRoom) return;
      sequence = new RoomSequence();
      this.sequences.set(room, sequence);
    }
    const step = sequence.receive({ event, envelope });
    this.hand(step);
    if (step.epochChanged === true) {
      this.emitChange({ kind: 'gap', room, cause: 'epoch', recovered: false });
    }
    if (step.gap !== undefined) this.join(room, step.gap);
  }

  private hand(step: SequenceStep): void {
    for (const arrival of step.deliver) this.deliver(arrival);
  }

  private deliver({ event, envelope }: RoomArrival): void {
    for (const handler of this.handlers.get(event) ?? []) handler(envelope);
    for (const handler of this.anyHandlers) handler(event, envelope);
  }

  private wire(): void {
    const socket = this.socket;
    socket.on('presence', (change: PresenceEvent) => {
      for (const handler of this.presenceHandlers) handler(change);
    });
    socket.on('unsubscribed', (notice: Unsubscribed) => {
      if (this.closed || !this.wanted.has(notice.room)) return;
      this.forget(notice.room, new PushError(notice.code, notice.message));
      this.emitChange({
        kind: 'unsubscribed',
        room: notice.room,
        code: notice.code,
        reason: notice.message,
      });
    });
    socket.onAny((event: string, envelope: Envelope) => {
      if (!SERVER_EVENTS.has(event)) this.receive(event, envelope);
    });
    socket.on('connect', () => {
      this.offerJoins();
      const engine = socket.io.engine;
      const current = engine.transport.name as TransportName;
      this.update({ transport: current }, undefined);
      if (current === 'websocket') this.reconnectOverWebsocket();
      engine.once('upgrade', (transport: { name: string }) => {
        const name = transport.name as TransportName;
        this.update({ transport: name }, { kind: 'transport', transport: name });
        if (name === 'websocket') this.reconnectOverWebsocket();
      });
    });
    socket.on('welcome', (welcome: Welcome) => this.welcome(welcome));
    socket.on('goodbye', (goodbye: ProtocolError) => {
      if (this.closed) return;
      this.update(
        { reason: goodbye.message, code: goodbye.code },
        { kind: 'goodbye', code: goodbye.code, reason: goodbye.message },
      );
    });
    socket.on('disconnect', (reason) => {
      if (this.closed) return;
      this.live = false;
      this.abandonJoins();
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
   * A new connection is up: says so, and joins every wanted room on it, each `since` where the
   * client left it, so that the node first replays what was missed when the room's history still
   * reaches back (`recovered`), else the application should reload that room's state
   * (`notRecovered`); the user's own room too, which the node joins by itself, to recover it.
   */
  private welcome(welcome: Welcome): void {
    const reconnected = this.welcomed;
    this.welcomed = true;
    this.live = true;
    this.retries = 0;
    this.sessionId = welcome.sid;
    this.joins.paceWithin(welcome.events ?? DEFAULT_EVENT_BUDGET);
    const ownRoom = welcome.guest ? undefined : `${USER_ROOM_PREFIX}${welcome.user}`;
    if (this.ownRoom !== undefined && this.ownRoom !== ownRoom && !this.wanted.has(this.ownRoom)) {
      // Another user now (a token for someone else): the old user's room is not followed.
      this.sequences.delete(this.ownRoom);
    }
    this.ownRoom = ownRoom;
    // The rooms this connection joins, and the joins its handshake asked for, as they stand
    // before the `connected` listeners run: a room a listener subscribes is joined by that call
    // (once), and one it leaves is not joined again below.
    const rooms = [...this.wanted];
    if (ownRoom !== undefined && !this.wanted.has(ownRoom)) {
      if (this.sequences.get(ownRoom)?.position !== undefined) rooms.push(ownRoom);
    }
    const offered = this.joins.snapshot();
    if (reconnected && rooms.length > 0) {
      this.resubscription = new Resubscription(rooms);
    }
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
    const answers = new Map((welcome.joined ?? []).map(({ room, ack }) => [room, ack]));
    for (const [room, round] of offered) {
      if (!this.joins.isOpen(room, round) || rooms.includes(room)) continue;
      // Asked for in the handshake, and no longer followed since (another user now): left on the
      // node unless it refused it (a room it joined but left unanswered counts as joined).
      this.joins.close(room);
      this.sequences.get(room)?.joinAbandoned();
      if (answers.get(room)?.ok !== false) this.socket.emit('unsubscribe', room, () => {});
    }
    for (const room of this.asked) {
      if (this.wanted.has(room) || room === ownRoom || offered.has(room)) continue;
      // Asked for in the handshake and left before the connection was up: the node joined it
      // first, and the unsubscribe sent then may have been dropped while waiting for the
      // connection (past `ackTimeoutMs`): it is sent again.
      if (answers.get(room)?.ok !== false) this.socket.emit('unsubscribe', room, () => {});
    }
    for (const room of rooms) {
      const round = this.joins.get(room);
      const ack = answers.get(room);
      if (round === undefined) {
        this.join(room, reconnected ? 'resubscribe' : 'subscribe');
      } else if (offered.get(room) !== round) {
        // Subscribed by a `connected` listener: already sent on this connection.
      } else if (ack === undefined) {
        // Not answered with the welcome (a node that does not, or past MAX_HANDSHAKE_ROOMS).
        this.joins.send(room, round);
      } else {
        round.attempts = 1;
        this.joinAnswered(room, round, ack);
      }
    }
  }

  /** The rooms to ask for in the next handshake, each since where this client stands in it. */
  private handshakeRooms(): HandshakeRoom[] {
    const rooms = [...this.wanted];
    const own = this.ownRoom;
    if (own !== undefined && !this.wanted.has(own) && this.position(own) !== undefined) {
      rooms.push(own);
    }
    // A name that is not a string (a JavaScript caller's `subscribe(42)`) would make the node
    // refuse the whole handshake: it is subscribed after the welcome, and refused alone.
    const offerable = rooms.filter((room) => typeof room === 'string');
    this.offered = offerable.slice(0, MAX_HANDSHAKE_ROOMS).map((room) => {
      const since = this.sequences.get(room)?.position;
      return since === undefined ? { room } : { room, since };
    });
    this.asked = this.offered.map(({ room }) => room);
    return this.offered;
  }

  /**
   * The connection is up, its welcome on the way: the rooms its handshake asked for are being
   * joined, and their messages that come before the answers are held until then.
   */
  private offerJoins(): void {
    this.abandonJoins();
    const cause: JoinCause = this.welcomed ? 'resubscribe' : 'subscribe';
    for (const { room } of this.offered) {
      const sequence = this.sequences.get(room);
      if (sequence === undefined || this.joins.open(room, cause) === undefined) continue;
      sequence.joinSent();
    }
  }

  /**
   * WebSocket worked: later connections open with it (one round trip through the load balancer
   * instead of the four of a long-polling handshake and upgrade, which counts in a reconnect
   * storm), falling back to long-polling within the same attempt should it fail.
   */
  private reconnectOverWebsocket(): void {
    const transports: Array<Transports[number]> = this.transports;
    const websocket = transports.filter((transport) => transportName(transport) === 'websocket');
    if (websocket.length === 0 || transports[0] === websocket[0]) return;
    this.transports = [
      ...websocket,
      ...transports.filter((transport) => !websocket.includes(transport)),
    ] as Transports;
    this.socket.io.opts.transports = this.transports;
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
    this.retries += 1;
    const delay = backoffDelay(this.retries, 500, MAX_RETRY_DELAY_MS);
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

  private update(patch: Partial<ConnectionStatus>, change: StatusChange | undefined): void {
    this.current = { ...this.current, ...patch };
    if (change !== undefined) this.emitChange(change);
  }

  private emitChange(change: StatusChange): void {
    const snapshot = this.status;
    for (const listener of this.listeners) listener(snapshot, change);
  }
}

/** The server's own events; every other event carries a published message's envelope. */
const SERVER_EVENTS: ReadonlySet<string> = new Set([
  'welcome',
  'goodbye',
  'presence',
  'unsubscribed',
]);

/** A transport's name, given as a name or as an engine.io-client class (whose prototype names it). */
function transportName(transport: Transports[number]): string {
  return typeof transport === 'string' ? transport : (transport.prototype as { name: string }).name;
}

/** A random idempotency key (32 hex digits); `getRandomValues` works on plain-HTTP pages too. */
function randomKey(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
