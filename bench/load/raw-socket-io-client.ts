import { SOCKET_PATH } from '../../src/protocol/index.js';
import { LeanWebSocket } from './lean-websocket.js';

/** A connected protocol-level client. */
export interface RawSocketIoClient {
  close(): void;
  /** Called once if the connection is lost (not after `close()`). */
  onLost(listener: () => void): void;
}

/**
 * A minimal Socket.IO client for load generation: Engine.IO v4 / Socket.IO v5 spoken directly
 * over a {@link LeanWebSocket} (default namespace, JSON parser). It connects with `token` (as
 * `auth: { token }`) when given, answers pings, joins `rooms`
 * with acknowledged `subscribe` events, and hands every `message` event's payload to `onMessage`.
 * Much cheaper per message than `socket.io-client`, so that the generator leaves more CPU to the
 * servers it measures; `--client socket.io-client` uses the real client instead.
 */
export function openRawSocketIo(
  url: string,
  rooms: string[],
  token: string | undefined,
  onMessage: (payload: unknown) => void,
  timeoutMs = 30_000,
): Promise<RawSocketIoClient> {
  const wsUrl = `${url.replace(/^http/, 'ws')}${SOCKET_PATH}?EIO=4&transport=websocket`;
  return new Promise((resolve, reject) => {
    const pendingAcks = new Map<number, (ok: boolean) => void>();
    let socket: LeanWebSocket | undefined;
    let nextAckId = 0;
    let settled = false;
    let failed = false;
    let closing = false;
    let lost: (() => void) | undefined;
    const timer = setTimeout(() => fail(new Error(`no welcome within ${timeoutMs} ms`)), timeoutMs);

    function fail(error: Error): void {
      if (settled) return;
      settled = true;
      failed = true;
      clearTimeout(timer);
      socket?.terminate();
      reject(error);
    }

    async function joinRooms(connection: LeanWebSocket): Promise<void> {
      const acks = rooms.map(
        (room) =>
          new Promise<boolean>((ack) => {
            const id = nextAckId++;
            pendingAcks.set(id, ack);
            connection.send(`42${id}${JSON.stringify(['subscribe', room])}`);
          }),
      );
      const results = await Promise.all(acks);
      if (results.includes(false)) throw new Error('subscribe refused');
    }

    function handle(text: string, connection: LeanWebSocket): void {
      socket = connection;
      const engineType = text.charCodeAt(0);
      if (engineType === 50 /* '2' ping */) {
        connection.send('3');
        return;
      }
      if (engineType === 48 /* '0' open */) {
        // Socket.IO CONNECT to the default namespace, with the token as its auth payload.
        connection.send(token === undefined ? '40' : `40${JSON.stringify({ token })}`);
        return;
      }
      if (engineType !== 52 /* '4' message */) return;
      const packetType = text.charCodeAt(1);
      if (packetType === 50 /* '2' event */) {
        const [event, payload] = JSON.parse(text.slice(2)) as [string, unknown];
        if (event === 'message') onMessage(payload);
        else if (event === 'welcome' && !settled) {
          joinRooms(connection).then(
            () => {
              settled = true;
              clearTimeout(timer);
              resolve({
                close: () => {
                  closing = true;
                  connection.terminate();
                },
                onLost: (listener) => {
                  lost = listener;
                },
              });
            },
            (error: Error) => fail(error),
          );
        }
      } else if (packetType === 51 /* '3' ack */) {
        const bracket = text.indexOf('[');
        const id = Number(text.slice(2, bracket));
        const [result] = JSON.parse(text.slice(bracket)) as [{ ok: boolean }];
        pendingAcks.get(id)?.(result.ok);
        pendingAcks.delete(id);
      } else if (packetType === 52 /* '4' connect error */) {
        fail(new Error(`connect_error: ${text.slice(2)}`));
      }
    }

    LeanWebSocket.open(
      wsUrl,
      {
        onMessage: handle,
        onClose: (reason) => {
          if (!settled) fail(new Error(`closed before welcome (${reason})`));
          else if (!closing) lost?.();
        },
      },
      timeoutMs,
    ).then((connection) => {
      socket = connection;
      // Timed out while the upgrade was still under way.
      if (failed) connection.terminate();
    }, fail);
  });
}
