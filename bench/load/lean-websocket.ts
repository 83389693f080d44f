import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** RFC 6455's constant for `Sec-WebSocket-Accept`. */
const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa };
/** Longest response head accepted before the 101 is complete. */
const MAX_HEAD_BYTES = 16 * 1024;

/** What a {@link LeanWebSocket} reports. */
export interface LeanWebSocketHandlers {
  /**
   * A complete text (or binary, decoded as UTF-8) message; `socket` is given because the first
   * messages can arrive before `open()` has resolved.
   */
  onMessage(text: string, socket: LeanWebSocket): void;
  /** The connection ended after it was open (also after `terminate()`), and why. */
  onClose(reason: string): void;
}

/**
 * A minimal WebSocket client (RFC 6455) for the load generator: a `net` socket, the upgrade
 * handshake with its `Sec-WebSocket-Accept` check, unmasked frames parsed straight from the
 * socket's chunks, masked text frames sent, pings answered, no extensions. A simulated user
 * spends most of its CPU receiving; `ws`'s receiver is a Writable stream per connection, this
 * parser is a loop over the chunk, so more of the machine is left to the servers measured.
 */
export class LeanWebSocket {
  private pending: Buffer | undefined;
  private fragments: Buffer[] | undefined;
  private ended = false;

  private constructor(
    private readonly socket: Socket,
    private readonly handlers: LeanWebSocketHandlers,
  ) {}

  /**
   * Connects to `url` (`ws://host:port/path?query`); resolves once the upgrade is accepted.
   * `signal` gives up before then: the connection is closed and the promise rejects.
   */
  static async open(
    url: string,
    handlers: LeanWebSocketHandlers,
    timeoutMs = 30_000,
    signal?: AbortSignal,
  ): Promise<LeanWebSocket> {
    const target = new URL(url);
    if (target.protocol !== 'ws:') throw new Error(`only ws:// URLs are supported (got ${url})`);
    const key = randomBytes(16).toString('base64');
    const expectedAccept = createHash('sha1')
      .update(key + ACCEPT_GUID)
      .digest('base64');
    return new Promise((resolve, reject) => {
      const socket = connect({ host: target.hostname, port: Number(target.port || 80) });
      socket.setNoDelay(true);
      let head: Buffer = Buffer.alloc(0);
      const timer = setTimeout(
        () => fail(new Error(`no upgrade within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const abort = () => fail(new Error('aborted before the upgrade'));
      function fail(error: Error): void {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        socket.destroy();
        reject(error);
      }
      if (signal?.aborted) {
        fail(new Error('aborted before the upgrade'));
        return;
      }
      signal?.addEventListener('abort', abort, { once: true });
      const onHeadData = (chunk: Buffer) => {
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) {
          if (head.length > MAX_HEAD_BYTES) fail(new Error('upgrade response head too long'));
          return;
        }
        socket.off('data', onHeadData);
        const lines = head.toString('latin1', 0, end).split('\r\n');
        if (!/^HTTP\/1\.1 101\b/.test(lines[0] ?? '')) {
          fail(new Error(`upgrade refused: ${lines[0]}`));
          return;
        }
        const accept = lines
          .find((line) => line.toLowerCase().startsWith('sec-websocket-accept:'))
          ?.slice('sec-websocket-accept:'.length)
          .trim();
        if (accept !== expectedAccept) {
          fail(new Error('upgrade answered with a wrong Sec-WebSocket-Accept'));
          return;
        }
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        socket.off('error', fail);
        socket.off('close', onEarlyClose);
        const client = new LeanWebSocket(socket, handlers);
        socket.on('data', (data: Buffer) => client.receive(data));
        socket.on('error', () => socket.destroy());
        socket.on('close', () => client.end('connection closed'));
        resolve(client);
        // Frames may arrive in the same chunk as the 101.
        if (head.length > end + 4) client.receive(head.subarray(end + 4));
      };
      const onEarlyClose = () => fail(new Error('closed before the upgrade'));
      socket.on('data', onHeadData);
      socket.once('error', fail);
      socket.once('close', onEarlyClose);
      socket.once('connect', () => {
        socket.write(
          `GET ${target.pathname}${target.search} HTTP/1.1\r\n` +
            `Host: ${target.host}\r\n` +
            'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
    });
  }

  /** Sends one text message. */
  send(text: string): void {
    if (this.ended) return;
    this.sendFrame(OPCODE.text, Buffer.from(text));
  }

  /** Closes the TCP connection at once (no closing handshake). */
  terminate(): void {
    this.socket.destroy();
  }

  private sendFrame(opcode: number, payload: Buffer): void {
    const length = payload.length;
    const headLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
    const frame = Buffer.allocUnsafe(headLength + 4 + length);
    frame[0] = 0x80 | opcode;
    if (length < 126) {
      frame[1] = 0x80 | length;
    } else if (length < 65_536) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(length), 2);
    }
    const mask = randomBytes(4);
    mask.copy(frame, headLength);
    const body = headLength + 4;
    for (let i = 0; i < length; i++) frame[body + i] = (payload[i] ?? 0) ^ (mask[i & 3] ?? 0);
    this.socket.write(frame);
  }

  private receive(chunk: Buffer): void {
    let buffer = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = undefined;
    let offset = 0;
    while (buffer.length - offset >= 2) {
      const first = buffer[offset] ?? 0;
      const second = buffer[offset + 1] ?? 0;
      if ((second & 0x80) !== 0) {
        this.protocolError('server frames must not be masked');
        return;
      }
      let length = second & 0x7f;
      let start = offset + 2;
      if (length === 126) {
        if (buffer.length - offset < 4) break;
        length = buffer.readUInt16BE(offset + 2);
        start = offset + 4;
      } else if (length === 127) {
        if (buffer.length - offset < 10) break;
        length = Number(buffer.readBigUInt64BE(offset + 2));
        start = offset + 10;
      }
      if (buffer.length - start < length) break;
      this.frame(first, buffer, start, start + length);
      offset = start + length;
      if (this.ended) return;
    }
    if (offset < buffer.length) {
      buffer = buffer.subarray(offset);
      // Copy: the chunk's memory is not ours to keep.
      this.pending = Buffer.from(buffer);
    }
  }

  private frame(first: number, buffer: Buffer, start: number, end: number): void {
    const fin = (first & 0x80) !== 0;
    const opcode = first & 0x0f;
    switch (opcode) {
      case OPCODE.text:
      case OPCODE.binary:
        if (fin) this.handlers.onMessage(buffer.toString('utf8', start, end), this);
        else this.fragments = [Buffer.from(buffer.subarray(start, end))];
        return;
      case OPCODE.continuation:
        if (this.fragments === undefined) {
          this.protocolError('continuation frame without a first fragment');
          return;
        }
        this.fragments.push(Buffer.from(buffer.subarray(start, end)));
        if (fin) {
          const whole = Buffer.concat(this.fragments);
          this.fragments = undefined;
          this.handlers.onMessage(whole.toString('utf8'), this);
        }
        return;
      case OPCODE.ping:
        this.sendFrame(OPCODE.pong, Buffer.from(buffer.subarray(start, end)));
        return;
      case OPCODE.pong:
        return;
      case OPCODE.close:
        this.sendFrame(OPCODE.close, Buffer.alloc(0));
        this.socket.end();
        this.end('closed by the server');
        return;
      default:
        this.protocolError(`unknown opcode ${opcode}`);
    }
  }

  private protocolError(reason: string): void {
    this.socket.destroy();
    this.end(`protocol error: ${reason}`);
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.handlers.onClose(reason);
  }
}
