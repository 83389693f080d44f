/**
 * The baseline: a minimal `ws` server. Each message from a publisher (path `/publish`) is framed
 * once, and the same bytes are written to every subscriber's socket — the practical limit of
 * Node.js fan-out on this machine, with no protocol, rooms, or cluster around it.
 *
 * Run as a child process: `PORT=… node --import tsx bench/ws-raw/ws-raw-server.ts`.
 */
import { createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';

/** `ws` keeps the TCP socket on a private field; the baseline writes to it directly. */
type WithSocket = WebSocket & { _socket: Duplex };

const port = Number(process.env.PORT ?? 0);
const subscribers = new Set<WithSocket>();
const http = createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404).end();
});
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });

wss.on('connection', (socket, request) => {
  if (request.url === '/publish') {
    socket.on('message', (data: RawData) => broadcast(Buffer.from(data as Buffer)));
    return;
  }
  const subscriber = socket as WithSocket;
  subscribers.add(subscriber);
  socket.on('close', () => subscribers.delete(subscriber));
});

function broadcast(payload: Buffer): void {
  const frame = textFrame(payload);
  for (const subscriber of subscribers) {
    if (subscriber.readyState === WebSocket.OPEN) subscriber._socket.write(frame);
  }
}

/** One unmasked, final WebSocket text frame (RFC 6455 §5.2) around `payload`. */
function textFrame(payload: Buffer): Buffer {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x81;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  payload.copy(frame, headerLength);
  return frame;
}

http.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  for (const subscriber of subscribers) subscriber.terminate();
  http.close(() => process.exit(0));
});
