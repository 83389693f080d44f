import WebSocket from 'ws';
import { SOCKET_PATH } from '../../src/protocol/index.js';

/**
 * A Socket.IO client spoken by hand over a plain `ws` WebSocket (Engine.IO v4, Socket.IO v5,
 * default namespace): for tests that need to control the socket itself, e.g. stop reading it.
 */
export class RawSocketClient {
  /** Envelopes' offsets and payloads, in the order they were read. */
  readonly messages: Array<{ event: string; offset: number | undefined; data: unknown }> = [];
  readonly goodbyes: unknown[] = [];
  closed = false;
  private nextAck = 0;
  private readonly acks = new Map<number, (value: unknown) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('close', () => {
      this.closed = true;
    });
    ws.on('message', (raw) => this.handle(String(raw)));
  }

  /** Connects with `token` and resolves once welcomed. */
  static async open(baseUrl: string, token: string): Promise<RawSocketClient> {
    const ws = new WebSocket(
      `${baseUrl.replace(/^http/, 'ws')}${SOCKET_PATH}?EIO=4&transport=websocket`,
    );
    const client = new RawSocketClient(ws);
    const welcomed = new Promise<void>((resolve, reject) => {
      setTimeout(() => reject(new Error('no welcome within 10 s')), 10_000).unref();
      ws.on('message', (raw) => {
        const text = String(raw);
        if (text.startsWith('0')) ws.send(`40${JSON.stringify({ token })}`);
        if (text.startsWith('42["welcome"')) resolve();
        if (text.startsWith('44')) reject(new Error(`connect_error ${text}`));
      });
      ws.once('error', reject);
    });
    await welcomed;
    return client;
  }

  /** Emits `event` with `args` and resolves with the ack; rejects without one within 15 s. */
  emitWithAck(event: string, ...args: unknown[]): Promise<unknown> {
    const id = this.nextAck++;
    this.ws.send(`42${id}${JSON.stringify([event, ...args])}`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ack for ${event} within 15 s`)), 15_000);
      this.acks.set(id, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
  }

  /** Stops reading the socket: what the server sends piles up in the kernel, then in the node. */
  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  close(): void {
    this.ws.terminate();
  }

  private handle(text: string): void {
    if (text === '2') {
      this.ws.send('3');
      return;
    }
    if (text.startsWith('43')) {
      const bracket = text.indexOf('[');
      const [value] = JSON.parse(text.slice(bracket)) as [unknown];
      this.acks.get(Number(text.slice(2, bracket)))?.(value);
      return;
    }
    if (!text.startsWith('42[')) return;
    const [event, payload] = JSON.parse(text.slice(2)) as [
      string,
      { offset?: number; data?: unknown },
    ];
    if (event === 'welcome') return;
    if (event === 'goodbye') this.goodbyes.push(payload);
    else this.messages.push({ event, offset: payload.offset, data: payload.data });
  }
}
