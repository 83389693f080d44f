import type { PushIo, PushSocket } from './push-io.js';

/** An EventEmitter's listener table, as Node keeps it (`emitter._events`). */
type ListenerTable = Record<string | symbol, unknown>;
interface WithListenerTable {
  _events?: ListenerTable;
}

/**
 * Rewrites `emitter`'s listener table into a fast-mode object: same listeners, same order, still
 * with a null prototype (so an event named `toString` or `__proto__` stays an ordinary key).
 */
export function compactListenerTable(emitter: unknown): void {
  const holder = emitter as WithListenerTable | null;
  const table = holder?._events;
  if (holder === null || table === undefined || table === null) return;
  // An assignment to `__proto__` would set the prototype; such a table is left as it is.
  if (Object.hasOwn(table, '__proto__')) return;
  const compact: ListenerTable = {};
  for (const key of Reflect.ownKeys(table)) compact[key] = table[key];
  Object.setPrototypeOf(compact, null);
  holder._events = compact;
}

/**
 * Compacts the Engine.IO socket, its transport and the `ws` WebSocket under it (with the Socket.IO
 * socket, the emitters a WebSocket connection holds for its whole life; the TCP socket and `ws`'s
 * frame receiver are streams, whose tables Node already creates in fast mode).
 */
function compactEngineSide(conn: PushSocket['conn']): void {
  const transport = conn.transport as unknown as { socket?: unknown };
  compactListenerTable(conn);
  compactListenerTable(transport);
  compactListenerTable(transport.socket);
}

/** Engine.IO socket `upgrade` listener: the new transport and its `ws` socket are now in place. */
function onUpgrade(this: PushSocket['conn']): void {
  compactEngineSide(this);
}

/**
 * Shrinks what every connection's event listeners cost: about 0.8 KB of heap per idle WebSocket
 * connection, a twelfth of what a connection holds.
 *
 * Node's EventEmitter stores an emitter's listeners in `_events`, an object created with a null
 * prototype, which V8 keeps in dictionary mode: a hash table of ~200–300 bytes even for a handful
 * of event names. The same keys in a fast-mode object (a hidden class shared by every connection
 * plus a small property array) take ~100 bytes. Each listener table a connection keeps for its
 * life is rewritten once it is complete: on Socket.IO's `connection` (a WebSocket connection is
 * then established), and again on Engine.IO's `upgrade` for a connection that started with
 * HTTP long-polling (its WebSocket transport only exists from then on).
 *
 * Behaviour is unchanged: EventEmitter reads `_events` afresh on every call, keys and listener
 * order are kept, and listeners added later extend the fast object. A table whose listener is
 * later removed (`delete`) goes back to dictionary mode, which costs memory, never correctness.
 */
export function compactListenerTables(io: PushIo): void {
  io.on('connection', (socket) => {
    // A listener function shared by every connection (called with the Engine.IO socket as
    // `this`), added before the compaction so that the table does not change shape afterwards.
    if (socket.conn.transport.name !== 'websocket') socket.conn.on('upgrade', onUpgrade);
    compactListenerTable(socket);
    compactEngineSide(socket.conn);
  });
}
