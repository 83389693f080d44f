import { connect, type Socket } from 'node:net';

/** What an HTTP exchange came back with. */
export interface HttpAnswer {
  status: number;
  /** The body, decoded as UTF-8. */
  text: string;
}

/** Longest response head accepted. */
const MAX_HEAD_BYTES = 16 * 1024;
/** A connection idle longer than this is closed rather than reused (the server may be closing it). */
const IDLE_REUSE_MS = 20_000;
/** Idle connections kept per host. */
const MAX_IDLE = 4_096;

/**
 * Plain-HTTP/1.1 requests over kept-alive connections, one request at a time on each (as a
 * browser sends long-polls): for the load generator, where Node's `http` client (a
 * `ClientRequest`, an `IncomingMessage` and their streams per request) costs about twice the CPU
 * per poll. Bodies with `Content-Length`, chunked, or up to the close; `http:` only, no TLS.
 */
export class HttpLines {
  private readonly idle = new Map<string, Line[]>();

  /** Sends one request to `url` (`http://host:port/path?query`); `body` makes it a text POST. */
  exchange(url: string, body?: string): Promise<HttpAnswer> {
    const target = new URL(url);
    if (target.protocol !== 'http:') {
      return Promise.reject(new Error(`only http:// URLs are supported (got ${url})`));
    }
    const head =
      `${body === undefined ? 'GET' : 'POST'} ${target.pathname}${target.search} HTTP/1.1\r\n` +
      `Host: ${target.host}\r\nAccept: */*\r\n` +
      (body === undefined
        ? '\r\n'
        : `Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
    const request = body === undefined ? head : head + body;
    const fresh = () => new Line(target.hostname, Number(target.port || 80));
    const kept = this.take(target.host);
    const line = kept ?? fresh();
    return line.send(request).then(
      (answer) => this.done(target.host, line, answer),
      (error: unknown) => {
        // A kept connection the server closed as the request went out (nothing came back): sent
        // again on a new one, as browsers do.
        if (kept === undefined || !(error instanceof Unanswered)) throw error;
        const retry = fresh();
        return retry.send(request).then((answer) => this.done(target.host, retry, answer));
      },
    );
  }

  /** Closes every idle connection. */
  close(): void {
    for (const lines of this.idle.values()) for (const line of lines) line.destroy();
    this.idle.clear();
  }

  /** The answer came: the connection goes back to the pool if it can carry another request. */
  private done(host: string, line: Line, answer: HttpAnswer): HttpAnswer {
    if (line.reusable) this.put(host, line);
    return answer;
  }

  private take(host: string): Line | undefined {
    const lines = this.idle.get(host);
    for (let line = lines?.pop(); line !== undefined; line = lines?.pop()) {
      if (line.reusable && Date.now() - line.idleSince < IDLE_REUSE_MS) return line;
      line.destroy();
    }
    return undefined;
  }

  private put(host: string, line: Line): void {
    let lines = this.idle.get(host);
    if (lines === undefined) {
      lines = [];
      this.idle.set(host, lines);
    }
    if (lines.length >= MAX_IDLE) {
      line.destroy();
      return;
    }
    line.idleSince = Date.now();
    lines.push(line);
  }
}

/** The connection was closed cleanly before any byte of the answer came. */
class Unanswered extends Error {}

/** One TCP connection, one request at a time. */
class Line {
  idleSince = 0;
  private readonly socket: Socket;
  private received: Buffer | undefined;
  private waiting: { resolve(answer: HttpAnswer): void; reject(error: Error): void } | undefined;
  private open = true;
  /** The server asked to close the connection after the answer. */
  private closing = false;

  constructor(host: string, port: number) {
    this.socket = connect({ host, port });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    // The server hung up: no new request on this connection (a body delimited by the close is
    // answered once it closes).
    this.socket.on('end', () => {
      this.open = false;
    });
    this.socket.on('error', (error) => this.end(error, false));
    this.socket.on('close', () => this.end(new Error('connection closed'), true));
  }

  get reusable(): boolean {
    return (
      this.open &&
      !this.closing &&
      this.waiting === undefined &&
      this.socket.writable &&
      !this.socket.destroyed
    );
  }

  send(request: string): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.received = undefined;
      this.socket.write(request);
    });
  }

  destroy(): void {
    this.open = false;
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    if (this.waiting === undefined) {
      // Nothing was asked: a server that speaks out of turn is not one to keep.
      this.destroy();
      return;
    }
    const received = this.received === undefined ? chunk : Buffer.concat([this.received, chunk]);
    this.received = received;
    const headEnd = received.indexOf('\r\n\r\n');
    if (headEnd === -1) {
      if (received.length > MAX_HEAD_BYTES) this.fail(new Error('response head too long'));
      return;
    }
    const head = received.toString('latin1', 0, headEnd).toLowerCase();
    const status = Number(/^http\/1\.[01] (\d{3})/.exec(head)?.[1]);
    if (!Number.isInteger(status)) {
      this.fail(new Error(`not an HTTP response: ${head.slice(0, 40)}`));
      return;
    }
    const bodyStart = headEnd + 4;
    const length = /\r\ncontent-length: *(\d+)/.exec(head)?.[1];
    let body: Buffer | undefined;
    if (status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (length !== undefined) {
      const end = bodyStart + Number(length);
      if (received.length < end) return;
      body = received.subarray(bodyStart, end);
    } else if (/\r\ntransfer-encoding: *chunked/.test(head)) {
      try {
        body = dechunk(received, bodyStart);
      } catch (error) {
        this.fail(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (body === undefined) return;
    } else {
      // Delimited by the close: the whole body is there once the connection ends.
      this.closing = true;
      return;
    }
    this.closing =
      /\r\nconnection: *close/.test(head) ||
      (head.startsWith('http/1.0') && !/\r\nconnection: *keep-alive/.test(head));
    this.answer({ status, text: body.toString('utf8') });
    if (this.closing) this.destroy();
  }

  private answer(answer: HttpAnswer): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    this.received = undefined;
    waiting?.resolve(answer);
  }

  private fail(error: Error): void {
    this.destroy();
    this.end(error, false);
  }

  /** The connection is gone: what waits is answered (a body delimited by a clean close) or rejected. */
  private end(error: Error, clean: boolean): void {
    this.open = false;
    const waiting = this.waiting;
    if (waiting === undefined) return;
    const received = this.received;
    const headEnd = received?.indexOf('\r\n\r\n') ?? -1;
    if (clean && this.closing && received !== undefined && headEnd !== -1) {
      // A body delimited by the close.
      const head = received.toString('latin1', 0, headEnd);
      this.answer({
        status: Number(/^HTTP\/1\.[01] (\d{3})/i.exec(head)?.[1]),
        text: received.toString('utf8', headEnd + 4),
      });
      return;
    }
    this.waiting = undefined;
    // Closed cleanly with nothing back: the server did not answer it (a reset may have dropped an
    // answer, so that one is not sent again).
    waiting.reject(received === undefined && clean ? new Unanswered(error.message) : error);
  }
}

/** A chunked body from `start`, or `undefined` while its last chunk has not arrived. */
function dechunk(received: Buffer, start: number): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const sizeEnd = received.indexOf('\r\n', at);
    if (sizeEnd === -1) return undefined;
    const size = Number.parseInt(received.toString('latin1', at, sizeEnd), 16);
    if (!Number.isInteger(size)) throw new Error('bad chunk size');
    if (size === 0) {
      // The last chunk, then (no trailers) an empty line.
      return received.length >= sizeEnd + 4 ? Buffer.concat(parts) : undefined;
    }
    const dataEnd = sizeEnd + 2 + size;
    if (received.length < dataEnd + 2) return undefined;
    parts.push(received.subarray(sizeEnd + 2, dataEnd));
    at = dataEnd + 2;
  }
}
