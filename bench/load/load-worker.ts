/**
 * A load-generator worker thread: holds a share of the simulated clients, records when each
 * benchmark message reaches each client, and accounts for every expected delivery.
 */
import { parentPort } from 'node:worker_threads';
import { io, type Socket } from 'socket.io-client';
import { PushClient } from '../../src/client/index.js';
import type { Envelope } from '../../src/protocol/index.js';
import { LeanPolling } from './lean-polling.js';
import { LeanWebSocket } from './lean-websocket.js';
import { LeanWebSocketTransport } from './lean-websocket-transport.js';
import type { BenchPayload, ClientSpec, DeliveryTally, FromWorker, ToWorker } from './messages.js';
import { openRawSocketIo } from './raw-socket-io-client.js';
import { nowMs, SampleBuffer } from './stats.js';

interface SimulatedClient {
  rooms: Set<string>;
  /** Receipts per message sequence number in the current phase. */
  seen: Uint8Array;
  close(): void;
  /** For the client library: how its last reconnect went. */
  recovery?: {
    lostAt?: number;
    welcomedAt?: number;
    caughtUpAt?: number;
    /** The most attempts one of its reconnects needed. */
    attempts: number;
    /** Long-polling only (no WebSocket). */
    polling: boolean;
    notRecovered: number;
    replayed: number;
  };
}

const port = parentPort;
if (port === null) throw new Error('load-worker must run as a worker thread');
const reply = (message: FromWorker, transfer: ArrayBuffer[] = []) =>
  port.postMessage(message, transfer);

/**
 * A spec's transports as the generator's own implementations: the same requests and frames on the
 * wire as engine.io-client's Node.js ones, with less of the machine's CPU (which the servers
 * measured share). For the client library's simulated users (the storm: 1,000 reconnects at
 * once); the connect workload's `socket.io-client` keeps its stock transports, as in earlier runs.
 */
function transportsOf(spec: ClientSpec) {
  return spec.transports.map((name) => (name === 'polling' ? LeanPolling : LeanWebSocketTransport));
}

let clients: SimulatedClient[] = [];
let maxSeq = 0;
let received = 0;
let lastReceiptAt = 0;
let disconnects = 0;
let latencies = new SampleBuffer();
let eluStart = performance.eventLoopUtilization();

function receive(client: SimulatedClient, payload: BenchPayload | undefined): void {
  if (payload === undefined || typeof payload.seq !== 'number' || payload.seq >= maxSeq) return;
  const now = nowMs();
  latencies.push(now - payload.t);
  received++;
  lastReceiptAt = now;
  const count = client.seen[payload.seq] ?? 0;
  if (count < 255) client.seen[payload.seq] = count + 1;
}

function connectSocketIo(spec: ClientSpec): Promise<SimulatedClient> {
  return new Promise((resolve, reject) => {
    const socket: Socket = io(spec.url, {
      transports: spec.transports,
      tryAllTransports: true,
      forceNew: true,
      reconnection: false,
      timeout: 30_000,
      auth: spec.token === undefined ? {} : { token: spec.token },
    });
    const client: SimulatedClient = {
      rooms: new Set(spec.rooms),
      seen: new Uint8Array(0),
      close: () => socket.close(),
    };
    socket.on('message', (envelope: Envelope<BenchPayload>) => receive(client, envelope.data));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
    socket.once('welcome', async () => {
      try {
        for (const room of spec.rooms) {
          const ack = (await socket.timeout(30_000).emitWithAck('subscribe', room)) as {
            ok: boolean;
          };
          if (!ack.ok) throw new Error(`subscribe ${room} refused`);
        }
        socket.on('disconnect', (reason) => {
          if (reason !== 'io client disconnect') disconnects++;
        });
        resolve(client);
      } catch (error) {
        socket.close();
        reject(error);
      }
    });
  });
}

/** The project's client library: it reconnects through the load balancer and recovers its rooms. */
async function connectPushClient(spec: ClientSpec): Promise<SimulatedClient> {
  const pushClient = new PushClient(spec.url, {
    // Long-polling requests reuse kept-alive connections, as a browser's do (lean-polling.ts).
    transports: transportsOf(spec),
    ...(spec.token === undefined ? {} : { token: spec.token }),
    ackTimeoutMs: 30_000,
  });
  const recovery: NonNullable<SimulatedClient['recovery']> = {
    attempts: 0,
    polling: !spec.transports.includes('websocket'),
    notRecovered: 0,
    replayed: 0,
  };
  const client: SimulatedClient = {
    rooms: new Set(spec.rooms),
    seen: new Uint8Array(0),
    close: () => pushClient.close(),
    recovery,
  };
  pushClient.on('message', (envelope) => {
    const payload = envelope.data as BenchPayload | undefined;
    const { lostAt, welcomedAt } = recovery;
    // Published while the client was away, received after it came back: replayed.
    if (
      payload !== undefined &&
      lostAt !== undefined &&
      (welcomedAt === undefined || payload.t < welcomedAt)
    ) {
      recovery.replayed++;
    }
    receive(client, payload);
  });
  pushClient.onStatus((_status, change) => {
    if (change.kind === 'disconnected' && !closing) {
      disconnects++;
      recovery.lostAt = nowMs();
      recovery.welcomedAt = undefined;
    } else if (change.kind === 'reconnecting') {
      recovery.attempts = Math.max(recovery.attempts, change.attempt);
    } else if (change.kind === 'connected' && change.reconnected) {
      recovery.welcomedAt = nowMs();
    } else if (change.kind === 'resubscribed') {
      recovery.caughtUpAt = nowMs();
      recovery.notRecovered += change.notRecovered.length + change.failed.length;
    } else if (change.kind === 'gap' && !change.recovered) {
      recovery.notRecovered++;
    } else if (change.kind === 'connect_error' && recovery.lostAt !== undefined) {
      // Why a reconnect attempt failed: the server's code, or the transport's reason.
      const why = change.code ?? change.reason;
      connectErrors.set(why, (connectErrors.get(why) ?? 0) + 1);
    }
  });
  await pushClient.ready();
  for (const room of spec.rooms) await pushClient.subscribe(room);
  return client;
}

/** Failed reconnect attempts of this worker's clients, by reason. */
const connectErrors = new Map<string, number>();

function recoveryStats(): void {
  const reconnected = clients.filter((c) => c.recovery?.caughtUpAt !== undefined);
  const at = (when: (recovery: NonNullable<SimulatedClient['recovery']>) => number | undefined) =>
    Float64Array.from(reconnected.map((c) => (c.recovery && when(c.recovery)) ?? 0));
  const caughtUpAt = at((r) => r.caughtUpAt);
  const lostAt = at((r) => r.lostAt);
  const welcomedAt = at((r) => r.welcomedAt);
  const polling = Float64Array.from(reconnected.map((c) => (c.recovery?.polling ? 1 : 0)));
  reply(
    {
      type: 'recovery',
      reconnected: reconnected.length,
      retried: reconnected.filter((c) => (c.recovery?.attempts ?? 0) > 1).length,
      maxAttempts: Math.max(0, ...reconnected.map((c) => c.recovery?.attempts ?? 0)),
      notRecovered: reconnected.reduce((sum, c) => sum + (c.recovery?.notRecovered ?? 0), 0),
      replayed: clients.reduce((sum, c) => sum + (c.recovery?.replayed ?? 0), 0),
      connectErrors: Object.fromEntries(connectErrors),
      caughtUpAt,
      lostAt,
      welcomedAt,
      polling,
    },
    [caughtUpAt.buffer, lostAt.buffer, welcomedAt.buffer, polling.buffer],
  );
}

async function connectRaw(spec: ClientSpec): Promise<SimulatedClient> {
  const client: SimulatedClient = {
    rooms: new Set(spec.rooms),
    seen: new Uint8Array(0),
    close: () => {},
  };
  const raw = await openRawSocketIo(spec.url, spec.rooms, spec.token, (payload) => {
    receive(client, (payload as Envelope<BenchPayload> | undefined)?.data);
  });
  raw.onLost(() => {
    disconnects++;
  });
  client.close = () => raw.close();
  return client;
}

async function connectWs(spec: ClientSpec): Promise<SimulatedClient> {
  const client: SimulatedClient = {
    rooms: new Set(),
    seen: new Uint8Array(0),
    close: () => {},
  };
  const socket = await LeanWebSocket.open(spec.url, {
    onMessage: (text) => {
      const message = JSON.parse(text) as { data?: BenchPayload };
      receive(client, message.data);
    },
    onClose: () => {
      if (!closing) disconnects++;
    },
  });
  client.close = () => socket.terminate();
  return client;
}

let closing = false;

async function connect(specs: ClientSpec[]): Promise<void> {
  closing = false;
  const connectMs = new Float64Array(specs.length);
  const errors: string[] = [];
  let ok = 0;
  await Promise.all(
    specs.map(async (spec, index) => {
      const started = nowMs();
      try {
        const client =
          spec.protocol === 'ws'
            ? await connectWs(spec)
            : spec.client === 'raw'
              ? await connectRaw(spec)
              : spec.client === 'push-client'
                ? await connectPushClient(spec)
                : await connectSocketIo(spec);
        clients.push(client);
        connectMs[ok++] = nowMs() - started;
      } catch (error) {
        errors.push(error instanceof Error ? error.message : String(error));
      }
      return index;
    }),
  );
  const times = connectMs.slice(0, ok);
  reply({ type: 'connected', ok, errors: errors.slice(0, 20), connectMs: times }, [times.buffer]);
}

function collect(rooms: Array<string | null | undefined>): void {
  const tally: DeliveryTally = {
    expected: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    misdelivered: 0,
    disconnects,
    lastReceiptAt,
  };
  for (const client of clients) {
    for (let seq = 0; seq < maxSeq; seq++) {
      const room = rooms[seq];
      const seen = client.seen[seq] ?? 0;
      const expected = room === null || (room !== undefined && client.rooms.has(room));
      if (!expected) {
        tally.misdelivered += seen;
        continue;
      }
      tally.expected++;
      if (seen === 0) tally.lost++;
      else {
        tally.delivered++;
        tally.duplicated += seen - 1;
      }
    }
  }
  const samples = latencies.take();
  const elu = performance.eventLoopUtilization(eluStart).utilization;
  reply({ type: 'collected', tally, latencies: samples, eventLoopUtilization: elu }, [
    samples.buffer,
  ]);
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'connect':
      void connect(message.clients);
      break;
    case 'phase':
      maxSeq = message.maxSeq;
      for (const client of clients) client.seen = new Uint8Array(maxSeq);
      received = 0;
      lastReceiptAt = 0;
      disconnects = 0;
      latencies = new SampleBuffer();
      eluStart = performance.eventLoopUtilization();
      break;
    case 'count':
      reply({ type: 'count', received, lastReceiptAt });
      break;
    case 'collect':
      collect(message.rooms);
      break;
    case 'recovery':
      recoveryStats();
      break;
    case 'close': {
      closing = true;
      const closed = disconnects;
      for (const client of clients) client.close();
      clients = [];
      reply({ type: 'closed', disconnects: closed });
      break;
    }
  }
});
