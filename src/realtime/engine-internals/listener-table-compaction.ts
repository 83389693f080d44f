import type { PushIo, PushSocket } from '../push-io.js';
import type { ShapeProblemListener } from './shape-problem.js';

const FILE = 'src/realtime/engine-internals/listener-table-compaction.ts';

/** An EventEmitter's listener table, as Node keeps it (`emitter._events`). */
type ListenerTable = Record<string | symbol, unknown>;
interface WithListenerTable {
  _events?: ListenerTable;
}

/**
 * Rewrites `emitter`'s listener table into a fast-mode object: same listeners, same order, still
 * with a null prototype (so an event named `toString` or `__proto__` stays an ordinary key).
 *
 * @returns false when `emitter` has no listener table where Node's EventEmitter keeps one.
 */
export function compactListenerTable(emitter: unknown): boolean {
  // Node's EventEmitter keeps its table in `_events`: not part of its public type.
  const holder = emitter as WithListenerTable | null | undefined;
  const table = holder?._events;
  if (holder === null || holder === undefined || typeof table !== 'object' || table === null) {
    return false;
  }
  // An assignment to `__proto__` would set the prototype; such a table is left as it is.
  if (Object.hasOwn(table, '__proto__')) return true;
  const compact: ListenerTable = {};
  for (const key of Reflect.ownKeys(table)) compact[key] = table[key];
  Object.setPrototypeOf(compact, null);
  holder._events = compact;
  return true;
}

/**
 * Compacts the Engine.IO socket, its transport and, for a WebSocket, the `ws` socket under it
 * (with the Socket.IO socket, the emitters a WebSocket connection holds for its whole life; the
 * TCP socket and `ws`'s frame receiver are streams, whose tables Node already creates in fast
 * mode).
 */
function compactEngineSide(conn: PushSocket['conn'], onProblem: ShapeProblemListener): void {
  // engine.io's WebSocket transport keeps the `ws` socket in `socket`: not part of its public type.
  const transport = conn.transport as unknown as { name: string; socket?: unknown };
  const emitters: Array<[string, unknown]> = [
    ['the Engine.IO socket', conn],
    ['its transport', transport],
  ];
  if (transport.name === 'websocket')
    emitters.push(['the transport.socket (ws)', transport.socket]);
  for (const [name, emitter] of emitters) {
    if (!compactListenerTable(emitter)) {
      onProblem({ file: FILE, expected: `${name} to keep its listeners in _events` });
    }
  }
}

/**
 * Shrinks what every connection's event listeners cost (see docs/performance.md for the
 * figures).
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
 * An emitter without `_events` is left alone and reported to `onProblem`.
 */
export function compactListenerTables(io: PushIo, onProblem: ShapeProblemListener): void {
  /** Engine.IO socket `upgrade` listener: the new transport and its `ws` socket are in place. */
  function onUpgrade(this: PushSocket['conn']): void {
    compactEngineSide(this, onProblem);
  }
  io.on('connection', (socket) => {
    // A listener function shared by every connection (called with the Engine.IO socket as
    // `this`), added before the compaction so that the table does not change shape afterwards.
    if (socket.conn.transport.name !== 'websocket') socket.conn.on('upgrade', onUpgrade);
    if (!compactListenerTable(socket)) {
      onProblem({ file: FILE, expected: 'the Socket.IO socket to keep its listeners in _events' });
    }
    compactEngineSide(socket.conn, onProblem);
  });
}
