import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { RedisContainer, type StartedRedisContainer } from '@testcontainers/redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/shared/free-port.js';
import { inspectFlag, liveMemory } from '../../bench/shared/inspector.js';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';
import { postPublish } from '../support/http-publish.js';
import { RawSocketClient } from '../support/raw-socket-client.js';
import { connectClient, subscribe, type TestClient } from '../support/test-client.js';
import { TEST_JWT_SECRET, testToken } from '../support/tokens.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * A client that stops reading while its room gets 5 MB/s: the node (its own process, so that its
 * memory can be read) cuts it off past MAX_CLIENT_BUFFER_BYTES instead of holding everything for
 * it, the other clients keep receiving, and the slow client, reading again, reconnects and
 * recovers from the history.
 */
const API_KEY = 'slow-consumer-test-key';
const MESSAGE_BYTES = 100 * 1024;
const RATE = 50; // × 100 KB = 5 MB/s
let child: ChildProcess | undefined;
let redis: StartedRedisContainer;
const cleanup: Array<() => void> = [];

// The history lives in Redis, so that the node's memory is what it holds for its clients.
beforeAll(async () => {
  redis = await new RedisContainer('redis:7-bookworm').start();
});
afterAll(async () => {
  await redis?.stop();
});

afterEach(() => {
  for (const step of cleanup.splice(0)) step();
  child?.kill('SIGKILL');
});

async function startNode(env: Record<string, string>) {
  const port = await freePort();
  const inspector = await freePort();
  const main = join(REPO_ROOT, 'src', 'main.ts');
  const node = spawn(process.execPath, ['--import', 'tsx', inspectFlag(inspector), main], {
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      NODE_ID: 'slowtest',
      REDIS_URL: redis.getConnectionUrl(),
      PUBLISH_API_KEYS: API_KEY,
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      MAX_PAYLOAD_BYTES: String(MESSAGE_BYTES + 1024),
      PUBLISH_API_RATE: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = node;
  let logs = '';
  node.stdout?.on('data', (chunk) => {
    logs += chunk;
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok, {
    what: 'node ready',
    timeoutMs: 20_000,
  });
  return { url, memory: () => liveMemory(inspector), logs: () => logs };
}

describe('a slow consumer', () => {
  it('is cut off with memory bounded, others keep receiving, and it recovers when it reads again', async () => {
    const node = await startNode({});
    const room = 'firehose';
    const fast: TestClient = await connectClient(node.url, {
      token: await testToken(),
      transports: ['websocket'],
    });
    cleanup.push(() => fast.close());
    await subscribe(fast, room);
    const slow = await RawSocketClient.open(node.url, await testToken());
    cleanup.push(() => slow.close());
    const subscribed = (await slow.emitWithAck('subscribe', room)) as { epoch: string };

    const payload = 'x'.repeat(MESSAGE_BYTES - 64);
    const latencies: number[] = [];
    fast.socket.on('message', (envelope: { ts: number }) =>
      latencies.push(Date.now() - envelope.ts),
    );
    const accepted: number[] = [];
    const publishFor = async (seconds: number) => {
      const started = Date.now();
      for (let i = 0; i < seconds * RATE; i++) {
        const due = started + (i * 1000) / RATE;
        if (due > Date.now()) await sleep(due - Date.now());
        const response = await postPublish(node.url, API_KEY, { room, data: { i, payload } });
        expect(response.status).toBe(202);
        accepted.push(((await response.json()) as { offset: number }).offset);
      }
    };

    await publishFor(1);
    await waitFor(
      () => fast.received.length === accepted.length && slow.messages.length === accepted.length,
      {
        what: 'both clients keep up at first',
      },
    );
    const baseline = await node.memory();
    latencies.length = 0;

    // The slow client stops reading; 6 s at 5 MB/s (30 MB) are published to its room.
    slow.pause();
    await publishFor(6);
    // What the node still holds (after a full collection) while the slow client is paused.
    const held = (await node.memory()) - baseline;

    await waitFor(() => fast.received.length === accepted.length, {
      what: 'the fast client has everything',
    });
    const sorted = [...latencies].sort((a, b) => a - b);
    const p99 = sorted[Math.floor(sorted.length * 0.99)] ?? 0;
    const cutOff = node
      .logs()
      .split('\n')
      .filter((line) => line.includes('"code":"slow_consumer"'));
    console.log(
      `slow consumer: the node holds ${(held / 1e6).toFixed(1)} MB more (live, after GC) once 30 MB were published to a client that stopped reading; fast client p99 ${p99} ms; cut-offs ${cutOff.length}`,
    );
    expect(cutOff).toHaveLength(1);
    expect(held).toBeLessThan(8 * 1024 * 1024);
    expect(p99).toBeLessThan(1000);
    expect(fast.socket.connected).toBe(true);

    // Reading again: what was in flight arrives, then the close; it reconnects and recovers.
    slow.resume();
    await waitFor(() => slow.closed, { what: 'the slow client sees its connection closed' });
    const read = slow.messages.map((m) => m.offset ?? 0);
    expect(read).toEqual(accepted.slice(0, read.length));
    const last = read.at(-1) ?? 0;
    const back = await RawSocketClient.open(node.url, await testToken());
    cleanup.push(() => back.close());
    const ack = await back.emitWithAck('subscribe', room, {
      since: { offset: last, epoch: subscribed.epoch },
    });
    expect(ack).toMatchObject({ ok: true, recovered: true });
    await waitFor(() => back.messages.length === accepted.length - read.length, {
      what: 'the replay',
    });
    expect([...read, ...back.messages.map((m) => m.offset ?? 0)]).toEqual(accepted);
  });
});
