import { NodeWebSocket } from 'socket.io-client';
import { LeanWebSocket } from './lean-websocket.js';

/** The part of a browser `WebSocket` that engine.io-client's WebSocket transport uses. */
class LeanSocketShim {
  onopen: (() => void) | undefined;
  onclose: ((event: { reason: string }) => void) | undefined;
  onmessage: ((event: { data: string }) => void) | undefined;
  onerror: ((error: unknown) => void) | undefined;
  binaryType = 'nodebuffer';
  private socket: LeanWebSocket | undefined;
  private closed = false;
  /** Gives up a connection still waiting for its upgrade. */
  private readonly connecting = new AbortController();

  constructor(uri: string) {
    LeanWebSocket.open(
      uri,
      {
        // The server's first frames can come with its 101, before `open` has resolved.
        onMessage: (text, socket) => {
          this.opened(socket);
          this.onmessage?.({ data: text });
        },
        onClose: (reason) => this.onclose?.({ reason }),
      },
      undefined,
      this.connecting.signal,
    ).then(
      (socket) => this.opened(socket),
      (error: unknown) => {
        if (this.closed) return;
        this.onerror?.(error);
        this.onclose?.({ reason: String(error) });
      },
    );
  }

  send(text: string): void {
    this.socket?.send(text);
  }

  close(): void {
    this.closed = true;
    if (this.socket === undefined) this.connecting.abort();
    else this.socket.terminate();
  }

  private opened(socket: LeanWebSocket): void {
    if (this.socket !== undefined) return;
    this.socket = socket;
    if (this.closed) socket.terminate();
    else this.onopen?.();
  }
}

/**
 * WebSocket for the load generator's simulated users: engine.io-client's own transport (the same
 * handshake and frames on the wire) over {@link LeanWebSocket} instead of `ws`, whose receiver (a
 * Writable stream per connection) costs the generator CPU the servers measured need in a storm.
 * Text only, no extensions, `ws://` only — what the benchmark's targets speak.
 *
 * Pass it where Socket.IO takes transports: `transports: [LeanWebSocketTransport]`.
 */
export class LeanWebSocketTransport extends NodeWebSocket {
  override createSocket(uri: string): LeanSocketShim {
    return new LeanSocketShim(uri);
  }

  override doWrite(_packet: unknown, data: unknown): void {
    if (typeof data !== 'string') throw new Error('the lean WebSocket sends text only');
    (this.ws as LeanSocketShim).send(data);
  }
}
