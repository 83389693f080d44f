import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { signToken } from '../../src/auth/token-signer.js';
import type { Target } from '../targets/target.js';
import type { BenchPayload } from './messages.js';
import { nowMs } from './stats.js';

/** Padding that makes each message's `data` about 100 bytes of JSON. */
const PAD = 'x'.repeat(52);

/** What a paced publishing run did. */
export interface PublishRun {
  /** The room of each message, by sequence number (`null`: everyone). */
  rooms: Array<string | null>;
  /** Publishes the server refused or did not acknowledge. */
  refused: number;
  /** Wall time of the run, ms. */
  elapsedMs: number;
}

/**
 * Publishers connected to the target as any client would be (through nginx for the cluster),
 * sending at a fixed rate, round-robin over their connections.
 */
export class PacedPublisher {
  private constructor(
    private readonly sendOne: (index: number, room: string | null, payload: BenchPayload) => void,
    private readonly count: number,
    private readonly closeAll: () => void,
    private readonly refusedCount: () => number,
  ) {}

  /** Connects `count` publishing connections to `target`. */
  static async connect(target: Target, count = 3): Promise<PacedPublisher> {
    if (target.protocol === 'ws') {
      const sockets = await Promise.all(
        Array.from({ length: count }, () => openWs(`${target.url}/publish`)),
      );
      return new PacedPublisher(
        (index, room, payload) =>
          sockets[index % count]?.send(JSON.stringify({ room, data: payload })),
        count,
        () => {
          for (const socket of sockets) socket.terminate();
        },
        () => 0,
      );
    }
    let refused = 0;
    // Publishers are users whose token may publish anywhere, as a backend's service account.
    const secret = target.tokenSecret;
    const sockets = await Promise.all(
      Array.from({ length: count }, async (_, index) =>
        openSocketIo(
          target.url,
          secret === undefined
            ? undefined
            : await signToken(secret, {
                sub: `bench-publisher-${index}`,
                publish: ['*'],
                ttlSeconds: 3600,
              }),
        ),
      ),
    );
    return new PacedPublisher(
      (index, room, payload) => {
        sockets[index % count]?.emit('publish', { room, data: payload }, (ack: { ok: boolean }) => {
          if (!ack.ok) refused++;
        });
      },
      count,
      () => {
        for (const socket of sockets) socket.close();
      },
      () => refused,
    );
  }

  /**
   * Publishes `rate` messages per second for `durationMs`, numbered from 0, each to
   * `roomOf(seq)`.
   */
  async run(
    rate: number,
    durationMs: number,
    roomOf: (seq: number) => string | null,
  ): Promise<PublishRun> {
    const total = Math.max(1, Math.round((rate * durationMs) / 1000));
    const rooms: Array<string | null> = [];
    const refusedBefore = this.refusedCount();
    const started = nowMs();
    await new Promise<void>((resolve) => {
      const tick = () => {
        const due = Math.min(total, Math.floor(((nowMs() - started) * rate) / 1000) + 1);
        while (rooms.length < due) {
          const seq = rooms.length;
          const room = roomOf(seq);
          rooms.push(room);
          this.sendOne(seq, room, { seq, t: nowMs(), pad: PAD });
        }
        if (rooms.length >= total) resolve();
        else setTimeout(tick, 2);
      };
      tick();
    });
    return { rooms, refused: this.refusedCount() - refusedBefore, elapsedMs: nowMs() - started };
  }

  get connections(): number {
    return this.count;
  }

  close(): void {
    this.closeAll();
  }
}

function openWs(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

function openSocketIo(url: string, token: string | undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      auth: token === undefined ? {} : { token },
    });
    socket.once('welcome', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}
