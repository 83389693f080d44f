import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { postPublish } from '../support/http-publish.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import {
  connectClient,
  emitAck,
  settle,
  subscribe,
  type TestClient,
} from '../support/test-client.js';
import { TEST_JWT_SECRET, testToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * What a hostile or broken client can send, over Socket.IO, raw Engine.IO/Socket.IO frames on a
 * plain WebSocket, and HTTP. Every case asserts the exact answer (an ack's code, a connect_error's
 * code, a close, an HTTP status and code); after every case the node is still healthy and nothing
 * reached the listener, which is subscribed to every room a case aims at.
 */
const API_KEY = 'bad-input-suite-publish-key';
const ISSUER = 'https://auth.bad-input.test';
const AUDIENCE = 'push';
const MAX_PAYLOAD_BYTES = 4096;
let node: InProcessNode;
let listener: TestClient;
let wsUrl: string;
const opened: TestClient[] = [];

/** A token the suite's node accepts (its issuer and audience), narrowed by `grant`. */
const token = (grant: Parameters<typeof testToken>[0] = {}) =>
  testToken({
    sub: 'mallory',
    issuer: ISSUER,
    audience: AUDIENCE,
    rooms: ['private:mine'],
    publish: ['chat:*'],
    ...grant,
  });

beforeAll(async () => {
  node = await startInProcessNode({
    NODE_ID: 'hostile',
    PUBLISH_API_KEYS: API_KEY,
    ALLOW_GUESTS: 'false',
    AUTH_JWT_ISSUER: ISSUER,
    AUTH_JWT_AUDIENCE: AUDIENCE,
    MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
  });
  wsUrl = `${node.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
  listener = await connectClient(node.url, {
    transports: ['websocket'],
    token: await token({ sub: 'bob', rooms: ['private:*'] }),
  });
  for (const room of ['chat:1', 'news', 'private:mine', 'private:payroll', 'lobby']) {
    await subscribe(listener, room);
  }
});

afterEach(async () => {
  for (const client of opened.splice(0)) client.close();
  // The node is healthy, the listener still connected, and nothing was delivered.
  expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
  await settle(50);
  expect(listener.socket.connected).toBe(true);
  expect(listener.received).toEqual([]);
});

afterAll(async () => {
  listener?.close();
  await node?.server.close();
});

async function connect(withToken: Promise<string> | string = token()) {
  const client = await connectClient(node.url, {
    transports: ['websocket'],
    token: await withToken,
  });
  opened.push(client);
  return client;
}

/** The `data` of the connect_error a handshake with `auth` and headers gets. */
async function refusedWith(auth: Record<string, unknown>, headers: Record<string, string> = {}) {
  const { io } = await import('socket.io-client');
  const socket = io(node.url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    auth,
    extraHeaders: headers,
  });
  try {
    return await new Promise<unknown>((resolve, reject) => {
      socket.once('connect_error', (error: Error & { data?: unknown }) => resolve(error.data));
      socket.once('connect', () => reject(new Error('connected')));
    });
  } finally {
    socket.close();
  }
}

/** Emits `event` with `args` on a fresh connection and returns the ack. */
async function ackOf(event: string, ...args: unknown[]) {
  return emitAck(await connect(), event, ...args);
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const sign = (claims: Record<string, unknown>, secret = TEST_JWT_SECRET) =>
  new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'mallory', exp: now() + 600, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(secret));

describe('handshakes that are refused, with the code in connect_error', () => {
  it.each<[string, () => Promise<Record<string, unknown>>, Record<string, string>, string]>([
    ['no token (guests off)', async () => ({}), {}, 'auth_required'],
    ['a null token', async () => ({ token: null }), {}, 'auth_required'],
    [
      'a forged signature',
      async () => ({ token: await sign({}, 'forged-secret-of-at-least-thirty-two-bytes') }),
      {},
      'token_invalid',
    ],
    [
      'alg: none',
      async () => ({
        token: `${b64({ alg: 'none' })}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'm', exp: now() + 60 })}.`,
      }),
      {},
      'token_invalid',
    ],
    [
      'an expired token',
      async () => ({ token: await sign({ exp: now() - 60 }) }),
      {},
      'token_expired',
    ],
    [
      'a token not yet valid',
      async () => ({ token: await sign({ nbf: now() + 600 }) }),
      {},
      'token_invalid',
    ],
    [
      'another issuer',
      async () => ({ token: await sign({ iss: 'https://evil.test' }) }),
      {},
      'token_invalid',
    ],
    [
      'another audience',
      async () => ({ token: await sign({ aud: 'someone-else' }) }),
      {},
      'token_invalid',
    ],
    ['no sub', async () => ({ token: await sign({ sub: undefined }) }), {}, 'token_invalid'],
    [
      'a sub with a space',
      async () => ({ token: await sign({ sub: 'mal lory' }) }),
      {},
      'token_invalid',
    ],
    [
      'a rooms claim that is a string',
      async () => ({ token: await sign({ rooms: 'private:*' }) }),
      {},
      'token_invalid',
    ],
    [
      'a publish claim with a bad pattern',
      async () => ({ token: await sign({ publish: ['a*b'] }) }),
      {},
      'token_invalid',
    ],
    ['a token that is a number', async () => ({ token: 42 }), {}, 'token_invalid'],
    ['a token that is an object', async () => ({ token: { alg: 'none' } }), {}, 'token_invalid'],
    ['a 9 KB token', async () => ({ token: 'x'.repeat(9000) }), {}, 'token_invalid'],
    [
      'a page from another origin',
      async () => ({ token: await token() }),
      { origin: 'https://evil.example.com' },
      'forbidden_origin',
    ],
    [
      'a sandboxed page (Origin: null)',
      async () => ({ token: await token() }),
      { origin: 'null' },
      'forbidden_origin',
    ],
  ])('%s → %s', async (_name, auth, headers, code) => {
    expect(await refusedWith(await auth(), headers)).toEqual({ code, message: expect.any(String) });
  });
});

describe('socket events that are refused, with the code in the ack', () => {
  const binary = Buffer.from([0, 1, 2, 255]);
  it.each<[string, string, unknown[], string]>([
    ['a private room without grant', 'subscribe', ['private:payroll'], 'forbidden'],
    ["another user's room", 'subscribe', ['user:bob'], 'forbidden'],
    ['an empty room', 'subscribe', [''], 'invalid_room'],
    ['a room with a space', 'subscribe', ['a b'], 'invalid_room'],
    ['a 129-character room', 'subscribe', ['r'.repeat(129)], 'invalid_room'],
    ['an object as room', 'subscribe', [{ room: 'news' }], 'invalid_room'],
    ['an array as room', 'subscribe', [['news']], 'invalid_room'],
    ['null as room', 'subscribe', [null], 'invalid_room'],
    ['binary as room', 'subscribe', [binary], 'invalid_room'],
    ['subscribe options that are a string', 'subscribe', ['news', 'since'], 'bad_request'],
    ['an unknown subscribe option', 'subscribe', ['news', { from: 3 }], 'bad_request'],
    [
      'a since with a negative offset',
      'subscribe',
      ['news', { since: { offset: -1, epoch: 'e' } }],
      'bad_request',
    ],
    ['a since without an epoch', 'subscribe', ['news', { since: { offset: 3 } }], 'bad_request'],
    ['a batch that is not a boolean', 'subscribe', ['news', { batch: 'yes' }], 'bad_request'],
    ['a number to unsubscribe', 'unsubscribe', [5], 'invalid_room'],
    ['its own user room, to leave', 'unsubscribe', ['user:mallory'], 'forbidden'],
    ['publish where the claim does not reach', 'publish', [{ room: 'news', data: 1 }], 'forbidden'],
    ['publish to everyone without "*"', 'publish', [{ data: 1 }], 'forbidden'],
    ['publish to another user', 'publish', [{ user: 'bob', data: 1 }], 'forbidden'],
    ['publish to a private room', 'publish', [{ room: 'private:mine', data: 1 }], 'forbidden'],
    ['a string as request', 'publish', ['chat:1'], 'bad_request'],
    ['null as request', 'publish', [null], 'bad_request'],
    ['an array as request', 'publish', [[{ room: 'chat:1', data: 1 }]], 'bad_request'],
    ['no data', 'publish', [{ room: 'chat:1' }], 'invalid_data'],
    ['an unknown field', 'publish', [{ room: 'chat:1', data: 1, priority: 9 }], 'bad_request'],
    ['a misspelt room', 'publish', [{ rom: 'chat:1', data: 1 }], 'bad_request'],
    ['room and user both', 'publish', [{ room: 'chat:1', user: 'bob', data: 1 }], 'bad_request'],
    [
      'an idempotencyKey with a space',
      'publish',
      [{ room: 'chat:1', data: 1, idempotencyKey: 'a b' }],
      'bad_request',
    ],
    [
      'a __proto__ key',
      'publish',
      [JSON.parse('{"room":"chat:1","data":1,"__proto__":{"room":"news"}}')],
      'bad_request',
    ],
    [
      'a constructor key',
      'publish',
      [{ room: 'chat:1', data: 1, constructor: { room: 'news' } }],
      'bad_request',
    ],
    [
      'the reserved event welcome',
      'publish',
      [{ room: 'chat:1', event: 'welcome', data: 1 }],
      'invalid_event',
    ],
    [
      'the reserved event goodbye',
      'publish',
      [{ room: 'chat:1', event: 'goodbye', data: 1 }],
      'invalid_event',
    ],
    [
      'the reserved event presence',
      'publish',
      [{ room: 'chat:1', event: 'presence', data: 1 }],
      'invalid_event',
    ],
    [
      'the reserved event unsubscribed',
      'publish',
      [{ room: 'chat:1', event: 'unsubscribed', data: 1 }],
      'invalid_event',
    ],
    [
      'the reserved event connect',
      'publish',
      [{ room: 'chat:1', event: 'connect', data: 1 }],
      'invalid_event',
    ],
    [
      'a 65-character event',
      'publish',
      [{ room: 'chat:1', event: 'e'.repeat(65), data: 1 }],
      'invalid_event',
    ],
    [
      'an event with a space',
      'publish',
      [{ room: 'chat:1', event: 'a b', data: 1 }],
      'invalid_event',
    ],
    [
      'a string over MAX_PAYLOAD_BYTES',
      'publish',
      [{ room: 'chat:1', data: 'x'.repeat(MAX_PAYLOAD_BYTES) }],
      'payload_too_large',
    ],
    [
      'data nested 100 deep',
      'publish',
      [{ room: 'chat:1', data: JSON.parse(`${'['.repeat(100)}${']'.repeat(100)}`) }],
      'invalid_data',
    ],
    ['a binary attachment as data', 'publish', [{ room: 'chat:1', data: binary }], 'invalid_data'],
    [
      'a binary attachment deep in data',
      'publish',
      [{ room: 'chat:1', data: { file: { bytes: binary } } }],
      'invalid_data',
    ],
    ['an unknown event', 'join', ['news'], 'unknown_event'],
    ['an event named __proto__', '__proto__', [1], 'unknown_event'],
    ['a refresh with garbage', 'refresh', ['garbage'], 'token_invalid'],
    ['a refresh that is a number', 'refresh', [7], 'token_invalid'],
  ])('%s → %s', async (_name, event, args, code) => {
    expect(await ackOf(event, ...args)).toEqual({
      ok: false,
      error: { code, message: expect.any(String) },
    });
  });

  it("a refresh with another user's token → forbidden", async () => {
    expect(await ackOf('refresh', await token({ sub: 'bob' }))).toEqual({
      ok: false,
      error: { code: 'forbidden', message: expect.any(String) },
    });
  });

  it('a subscribe storm → rate_limited beyond the burst, the connection kept', async () => {
    const client = await connect();
    const acks = (await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        client.socket.timeout(5000).emitWithAck('subscribe', `storm-${i}`),
      ),
    )) as Array<{ ok: boolean; error?: { code: string } }>;
    expect(acks.filter((a) => a.ok)).toHaveLength(50);
    expect(acks.filter((a) => a.error?.code === 'rate_limited')).toHaveLength(10);
    expect(client.socket.connected).toBe(true);
  });

  it('an event flood → goodbye rate_limited and the connection closed', async () => {
    const client = await connect();
    const goodbye = new Promise((resolve) => client.socket.once('goodbye', resolve));
    const odd = client.socket as unknown as { emit(event: string, ...args: unknown[]): void };
    for (let i = 0; i < 200; i++) odd.emit('flood', i);
    expect(await goodbye).toEqual({ code: 'rate_limited', message: expect.any(String) });
    await waitFor(() => !client.socket.connected, { what: 'cut off' });
  });

  it('a connection flood from one user → too_many_connections past MAX_CONNECTIONS_PER_USER', async () => {
    const flood = await token({ sub: 'flooder' });
    const results = await Promise.allSettled(
      Array.from({ length: 110 }, () =>
        connectClient(node.url, { transports: ['websocket'], token: flood }),
      ),
    );
    for (const result of results) if (result.status === 'fulfilled') opened.push(result.value);
    const refused = results.flatMap((r) =>
      r.status === 'rejected' ? [(r.reason as { data?: { code?: string } }).data?.code] : [],
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(100);
    expect(refused).toEqual(Array(10).fill('too_many_connections'));
  });
});

describe('raw frames on a plain WebSocket', () => {
  /** Opens a WebSocket, connects (with a token) unless told not to, sends `frames`. */
  async function raw(frames: Array<string | Buffer>, { connect = true } = {}) {
    const ws = new WebSocket(wsUrl);
    const received: string[] = [];
    let closeCode: number | undefined;
    ws.on('message', (data, isBinary) => received.push(isBinary ? '<binary>' : String(data)));
    ws.on('close', (code) => {
      closeCode = code;
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    if (connect) {
      ws.send(`40${JSON.stringify({ token: await token() })}`);
      await waitFor(() => received.some((m) => m.startsWith('42["welcome"')), { what: 'welcome' });
    }
    const before = received.length;
    for (const frame of frames) ws.send(frame);
    await waitFor(() => closeCode !== undefined || received.length > before, {
      timeoutMs: 2000,
    }).catch(() => undefined);
    await settle(100);
    ws.terminate();
    return { answers: received.slice(before), closeCode };
  }

  it.each<[string, Array<string | Buffer>, boolean, number]>([
    ['an unknown Engine.IO packet type', ['x'], true, 1005],
    ['a truncated event', ['42["publish",{"room":"chat:1"'], true, 1005],
    ['an event that is not an array', ['42{"room":"chat:1","data":1}'], true, 1005],
    ['an event with no name', ['420[]'], true, 1005],
    ['an event before connecting', ['420["publish",{"room":"chat:1","data":1}]'], false, 1005],
    ['a CONNECT with broken JSON', ['40{"token":'], false, 1005],
    ['binary garbage', [Buffer.from([0xff, 0x00, 0x13, 0x37])], true, 1005],
    [
      'a binary event packet claiming an attachment it never sends',
      ['450-["publish",1]'],
      true,
      1005,
    ],
    ['a client ping (only the server pings in v4)', ['2'], true, 1005],
    [
      'a frame over the size limit',
      [`42${JSON.stringify(['publish', { room: 'chat:1', data: 'x'.repeat(40_000) }])}`],
      true,
      1009,
    ],
  ])('%s → closed (%#)', async (_name, frames, connect, code) => {
    const { closeCode } = await raw(frames, { connect });
    expect(closeCode).toBe(code);
  });

  it('a CONNECT to an unknown namespace → connect_error "Invalid namespace"', async () => {
    const { answers } = await raw(['40/admin,'], { connect: false });
    expect(answers).toEqual(['44/admin,{"message":"Invalid namespace"}']);
  });

  it('an event whose name is a number → unknown_event', async () => {
    const { answers } = await raw(['420[42,"news"]']);
    expect(answers).toHaveLength(1);
    expect(JSON.parse((answers[0] as string).slice(3))).toMatchObject([
      { ok: false, error: { code: 'unknown_event' } },
    ]);
  });

  it('a binary attachment where JSON data is expected → invalid_data', async () => {
    const { answers } = await raw([
      '451-0["publish",{"room":"chat:1","data":{"_placeholder":true,"num":0}}]',
      Buffer.from([1, 2, 3]),
    ]);
    expect(JSON.parse((answers[0] as string).slice(3))).toMatchObject([
      { ok: false, error: { code: 'invalid_data' } },
    ]);
  });
});

describe('HTTP requests that are refused, with status and code', () => {
  it.each<[string, string, Record<string, string>, number, string]>([
    [
      'no Authorization header',
      '{"room":"news","data":1}',
      { authorization: '' },
      401,
      'unauthorized',
    ],
    [
      'a wrong key',
      '{"room":"news","data":1}',
      { authorization: 'Bearer not-the-right-key-at-all' },
      401,
      'unauthorized',
    ],
    [
      'Basic instead of Bearer',
      '{"room":"news","data":1}',
      { authorization: `Basic ${API_KEY}` },
      401,
      'unauthorized',
    ],
    [
      'a bare "Bearer"',
      '{"room":"news","data":1}',
      { authorization: 'Bearer' },
      401,
      'unauthorized',
    ],
    [
      'a connection token instead of the API key',
      '{"room":"news","data":1}',
      { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.x' },
      401,
      'unauthorized',
    ],
    [
      'text/plain',
      '{"room":"news","data":1}',
      { 'content-type': 'text/plain' },
      415,
      'unsupported_media_type',
    ],
    [
      'form data',
      'room=news&data=1',
      { 'content-type': 'application/x-www-form-urlencoded' },
      415,
      'unsupported_media_type',
    ],
    [
      'a latin-1 charset',
      '{"room":"news","data":1}',
      { 'content-type': 'application/json; charset=latin1' },
      415,
      'unsupported_media_type',
    ],
    ['malformed JSON', '{"room": "news",', {}, 400, 'bad_request'],
    ['a JSON array', '[{"room":"news","data":1}]', {}, 400, 'bad_request'],
    ['a JSON string', '"news"', {}, 400, 'bad_request'],
    ['JSON null', 'null', {}, 400, 'bad_request'],
    ['an unknown field', '{"room":"news","data":1,"ttl":5}', {}, 400, 'bad_request'],
    ['a __proto__ key', '{"room":"news","data":1,"__proto__":{"x":1}}', {}, 400, 'bad_request'],
    ['room and user both', '{"room":"news","user":"bob","data":1}', {}, 400, 'bad_request'],
    ['a user with a space', '{"user":"b ob","data":1}', {}, 400, 'invalid_room'],
    ['a room with a space', '{"room":"n ews","data":1}', {}, 400, 'invalid_room'],
    ['a reserved event', '{"room":"news","event":"goodbye","data":1}', {}, 400, 'invalid_event'],
    ['no data', '{"room":"news"}', {}, 400, 'invalid_data'],
    [
      'an empty idempotencyKey',
      '{"room":"news","data":1,"idempotencyKey":""}',
      {},
      400,
      'bad_request',
    ],
    [
      'an idempotencyKey of 129 characters',
      JSON.stringify({ room: 'news', data: 1, idempotencyKey: 'k'.repeat(129) }),
      {},
      400,
      'bad_request',
    ],
    [
      'an idempotencyKey for everyone (at most once)',
      '{"data":1,"idempotencyKey":"k-1"}',
      {},
      400,
      'bad_request',
    ],
    [
      'data nested 100 deep',
      `{"room":"news","data":${'['.repeat(100)}${']'.repeat(100)}}`,
      {},
      400,
      'invalid_data',
    ],
    [
      'a body over MAX_PAYLOAD_BYTES',
      JSON.stringify({ room: 'news', data: 'x'.repeat(MAX_PAYLOAD_BYTES) }),
      {},
      413,
      'payload_too_large',
    ],
  ])('%s → %i %s', async (_name, body, headers, status, code) => {
    const response = await postPublish(node.url, API_KEY, body, headers);
    expect(response.status).toBe(status);
    expect(await response.json()).toEqual({ error: { code, message: expect.any(String) } });
  });

  it.each([
    ['GET', '/api/publish'],
    ['PUT', '/api/publish'],
    ['POST', '/api/publish/extra'],
    ['GET', '/no-such-page'],
  ])('%s %s → 404 not_found', async (method, path) => {
    const response = await fetch(`${node.url}${path}`, { method });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('sends security headers with every answer', async () => {
    const response = await fetch(`${node.url}/healthz`);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(response.headers.get('strict-transport-security')).toMatch(/max-age=/);
    const page = await fetch(`${node.url}/`);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
  });
});

describe('after all of it', () => {
  it('the node still delivers', async () => {
    const response = await postPublish(node.url, API_KEY, { room: 'lobby', data: 'canary' });
    expect(response.status).toBe(202);
    await waitFor(() => listener.received.length === 1, { what: 'the canary' });
    expect(listener.received[0]?.envelope.data).toBe('canary');
    listener.received.length = 0;
  });
});
