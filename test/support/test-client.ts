import { io, type Socket } from 'socket.io-client';
import type {
  ClientToServerEvents,
  Envelope,
  PresenceEvent,
  ServerToClientEvents,
  Unsubscribed,
  Welcome,
} from '../../src/protocol/index.js';
import { sleep } from './wait.js';

/** A socket typed with the protocol's events. */
export type PushClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A connected test client: its node, and every envelope it received, per event name. */
export interface TestClient {
  socket: PushClientSocket;
  node: string;
  sid: string;
  /** The user id the server gave the connection (`sub`, or `guest-…`). */
  user: string;
  /** The event budget the server told in its welcome. */
  events: Welcome['events'];
  /** Envelopes received under any event name, in arrival order, with the event name. */
  received: Array<{ event: string; envelope: Envelope }>;
  /** Presence changes received, in order. */
  presence: PresenceEvent[];
  /** Rooms the server took the connection out of, in order. */
  unsubscribed: Unsubscribed[];
  /** Envelopes received with the given id (to count duplicates). */
  receivedWithId(id: string): number;
  close(): void;
}

/** Options for {@link connectClient}. */
export interface ConnectOptions {
  transports?: Array<'polling' | 'websocket'>;
  /** Allow the client to reconnect (off by default so that a lost session fails the test). */
  reconnection?: boolean;
  timeoutMs?: number;
  /** Request headers sent with the handshake and every later request. */
  extraHeaders?: Record<string, string>;
  /** The connection token (`auth: { token }`); none connects as a guest. */
  token?: string;
}

/**
 * Connects a fresh client (no shared manager) and resolves after the server's `welcome`;
 * rejects with the server's reason on `connect_error`.
 */
export function connectClient(url: string, options: ConnectOptions = {}): Promise<TestClient> {
  const {
    transports = ['polling', 'websocket'],
    reconnection = false,
    timeoutMs = 10_000,
    extraHeaders,
    token,
  } = options;
  const socket: PushClientSocket = io(url, {
    transports,
    reconnection,
    reconnectionDelay: 200,
    reconnectionDelayMax: 1000,
    forceNew: true,
    timeout: timeoutMs,
    extraHeaders,
    auth: token === undefined ? {} : { token },
  });
  const received: TestClient['received'] = [];
  const presence: PresenceEvent[] = [];
  const unsubscribed: Unsubscribed[] = [];
  socket.on('presence', (change) => presence.push(change));
  socket.on('unsubscribed', (notice) => unsubscribed.push(notice));
  socket.onAny((event: string, envelope: Envelope) => {
    if (!['welcome', 'goodbye', 'presence', 'unsubscribed'].includes(event)) {
      received.push({ event, envelope });
    }
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no welcome from ${url} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect_error', (error) => {
      clearTimeout(timer);
      socket.close();
      reject(error);
    });
    socket.once('welcome', ({ node, sid, user, events }) => {
      clearTimeout(timer);
      const client: TestClient = {
        socket,
        node,
        sid,
        user,
        events,
        received,
        presence,
        unsubscribed,
        receivedWithId: (id) => received.filter(({ envelope }) => envelope.id === id).length,
        close: () => socket.close(),
      };
      socket.on('welcome', (welcome) => {
        client.node = welcome.node;
        client.sid = welcome.sid;
      });
      resolve(client);
    });
  });
}

/**
 * Connects clients through a load balancer until every node in `nodes` serves exactly
 * `perNode` of them, and returns only those. Clients that land on other nodes, or beyond
 * `perNode`, stay connected until then and are closed at the end: nginx sends a new session to
 * the node with the fewest connections (`least_conn`), so a client closed at once would leave
 * that node the least busy, and the next one would land there again, never on a node that
 * already holds more. Fails if that takes more than `maxAttempts`.
 */
export async function connectOnEveryNode(
  url: string,
  nodes: readonly string[],
  options: ConnectOptions & { perNode?: number; maxAttempts?: number } = {},
): Promise<TestClient[]> {
  const { perNode = 1, maxAttempts = 60 } = options;
  const kept: TestClient[] = [];
  const extra: TestClient[] = [];
  try {
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      if (nodes.every((node) => kept.filter((c) => c.node === node).length >= perNode)) {
        return kept;
      }
      const client = await connectClient(url, options);
      const wanted =
        nodes.includes(client.node) && kept.filter((c) => c.node === client.node).length < perNode;
      (wanted ? kept : extra).push(client);
    }
    if (nodes.every((node) => kept.filter((c) => c.node === node).length >= perNode)) return kept;
  } finally {
    for (const client of extra) client.close();
  }
  for (const client of kept) client.close();
  const landed = new Map<string, number>();
  for (const client of [...kept, ...extra]) {
    landed.set(client.node, (landed.get(client.node) ?? 0) + 1);
  }
  throw new Error(
    `could not place ${perNode} client(s) on each of ${nodes.join(', ')}; they landed on ${JSON.stringify(Object.fromEntries(landed))}`,
  );
}

/** Subscribes and asserts a positive ack. */
export async function subscribe(client: TestClient, room: string): Promise<void> {
  const ack = await client.socket.timeout(5000).emitWithAck('subscribe', room);
  if (!ack.ok) throw new Error(`subscribe ${room} failed: ${ack.error.code} ${ack.error.message}`);
}

/** Waits long enough for in-flight deliveries to land, to assert that nothing more arrives. */
export const settle = (ms = 500) => sleep(ms);

/**
 * Emits any `event` with any `args` (the protocol's types do not apply: tests send what a hostile
 * client would) and resolves with the ack, or rejects after 5 s without one.
 */
export function emitAck(client: TestClient, event: string, ...args: unknown[]): Promise<unknown> {
  const untyped = client.socket as unknown as {
    timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<unknown> };
  };
  return untyped.timeout(5000).emitWithAck(event, ...args);
}
