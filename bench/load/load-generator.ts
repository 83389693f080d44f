import { Worker } from 'node:worker_threads';
import type { ClientSpec, DeliveryTally, FromWorker, ToWorker } from './messages.js';
import { addTallies } from './messages.js';
import { concatSamples, nowMs } from './stats.js';

type Reply<T extends FromWorker['type']> = Extract<FromWorker, { type: T }>;

/** Result of connecting a batch of clients. */
export interface ConnectedBatch {
  ok: number;
  errors: string[];
  /** Per connected client: time from start to ready (welcome + rooms joined), ms. */
  connectMs: Float64Array;
  wallMs: number;
}

/** Result of one measured phase. */
export interface PhaseResult {
  tally: DeliveryTally;
  latencies: Float64Array;
  /** Event-loop utilization of each worker over the phase (1 = saturated). */
  workerUtilization: number[];
}

/**
 * The load generator: simulated clients spread over worker threads, driven from here. Clients
 * are dealt round-robin, so each worker holds an equal share.
 */
export class LoadGenerator {
  private constructor(private readonly workers: Worker[]) {}

  /** Starts `count` worker threads. */
  static start(count: number): LoadGenerator {
    const workers = Array.from(
      { length: count },
      () =>
        new Worker(new URL('./load-worker.ts', import.meta.url), { execArgv: ['--import', 'tsx'] }),
    );
    for (const worker of workers)
      worker.on('error', (error) => {
        throw error;
      });
    return new LoadGenerator(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Connects all `specs` at once (each worker its share, concurrently). */
  async connect(specs: ClientSpec[]): Promise<ConnectedBatch> {
    const shares = this.workers.map((_, index) =>
      specs.filter((__, i) => i % this.workers.length === index),
    );
    const started = nowMs();
    const replies = await Promise.all(
      this.workers.map((worker, index) =>
        request(worker, { type: 'connect', clients: shares[index] ?? [] }, 'connected'),
      ),
    );
    return {
      ok: replies.reduce((sum, r) => sum + r.ok, 0),
      errors: replies.flatMap((r) => r.errors),
      connectMs: concatSamples(replies.map((r) => r.connectMs)),
      wallMs: nowMs() - started,
    };
  }

  /** Starts a phase: counters reset, messages numbered 0…`maxSeq - 1` are tracked. */
  phase(maxSeq: number): void {
    for (const worker of this.workers) send(worker, { type: 'phase', maxSeq });
  }

  /** Deliveries so far in this phase. */
  async received(): Promise<number> {
    const replies = await Promise.all(
      this.workers.map((w) => request(w, { type: 'count' }, 'count')),
    );
    return replies.reduce((sum, r) => sum + r.received, 0);
  }

  /**
   * Waits until `expected` deliveries have arrived, or nothing more arrives for `quietMs`, or
   * `maxMs` passed.
   */
  async drain(expected: number, quietMs = 1000, maxMs = 15_000): Promise<void> {
    const deadline = Date.now() + maxMs;
    let last = -1;
    let quietSince = Date.now();
    while (Date.now() < deadline) {
      const now = await this.received();
      if (now >= expected) return;
      if (now !== last) {
        last = now;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= quietMs) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Ends the phase: per-client accounting against `rooms` (the room of each message). */
  async collect(rooms: Array<string | null | undefined>): Promise<PhaseResult> {
    const replies = await Promise.all(
      this.workers.map((w) => request(w, { type: 'collect', rooms }, 'collected')),
    );
    return {
      tally: addTallies(replies.map((r) => r.tally)),
      latencies: concatSamples(replies.map((r) => r.latencies)),
      workerUtilization: replies.map((r) => Math.round(r.eventLoopUtilization * 100) / 100),
    };
  }

  /** How the client-library clients came through their reconnects, summed over the workers. */
  async recovery(): Promise<{
    reconnected: number;
    retried: number;
    maxAttempts: number;
    notRecovered: number;
    replayed: number;
    /** Failed reconnect attempts, by reason. */
    connectErrors: Record<string, number>;
    /** Per reconnected client, in the same order (see the worker's `recovery` reply). */
    caughtUpAt: Float64Array;
    lostAt: Float64Array;
    welcomedAt: Float64Array;
    polling: Float64Array;
  }> {
    const replies = await Promise.all(
      this.workers.map((w) => request(w, { type: 'recovery' }, 'recovery')),
    );
    return {
      reconnected: replies.reduce((sum, r) => sum + r.reconnected, 0),
      retried: replies.reduce((sum, r) => sum + r.retried, 0),
      maxAttempts: Math.max(0, ...replies.map((r) => r.maxAttempts)),
      notRecovered: replies.reduce((sum, r) => sum + r.notRecovered, 0),
      replayed: replies.reduce((sum, r) => sum + r.replayed, 0),
      connectErrors: replies.reduce<Record<string, number>>((sum, r) => {
        for (const [why, count] of Object.entries(r.connectErrors))
          sum[why] = (sum[why] ?? 0) + count;
        return sum;
      }, {}),
      caughtUpAt: concatSamples(replies.map((r) => r.caughtUpAt)),
      lostAt: concatSamples(replies.map((r) => r.lostAt)),
      welcomedAt: concatSamples(replies.map((r) => r.welcomedAt)),
      polling: concatSamples(replies.map((r) => r.polling)),
    };
  }

  /** Closes every client. */
  async closeClients(): Promise<void> {
    await Promise.all(this.workers.map((w) => request(w, { type: 'close' }, 'closed')));
  }

  /** Stops the worker threads. */
  async stop(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}

function send(worker: Worker, message: ToWorker): void {
  worker.postMessage(message);
}

function request<T extends FromWorker['type']>(
  worker: Worker,
  message: ToWorker,
  replyType: T,
): Promise<Reply<T>> {
  return new Promise((resolve) => {
    const listener = (reply: FromWorker) => {
      if (reply.type !== replyType) return;
      worker.off('message', listener);
      resolve(reply as Reply<T>);
    };
    worker.on('message', listener);
    send(worker, message);
  });
}
