import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';

const problemsOf = (env: Record<string, string>) => {
  const result = loadConfig(env);
  if (result.ok) throw new Error('expected config problems');
  return result.problems;
};
const configOf = (env: Record<string, string>) => {
  const result = loadConfig(env);
  if (!result.ok) throw new Error(`unexpected problems: ${result.problems.join('; ')}`);
  return result.config;
};

const SECRET = 'a-jwt-secret-of-at-least-thirty-two-bytes';
const keyDir = mkdtempSync(join(tmpdir(), 'push-config-keys-'));
/** Writes a PEM public key of `type` to a file and returns its path. */
function publicKeyFile(name: string, type: 'rsa' | 'ec' | 'ed25519', curve?: string): string {
  const { publicKey } =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: curve ?? 'P-256' })
        : generateKeyPairSync('ed25519');
  const path = join(keyDir, `${name}.pem`);
  writeFileSync(path, publicKey.export({ type: 'spki', format: 'pem' }));
  return path;
}

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment: development mode, guests on', () => {
    const config = configOf({});
    expect(config).toMatchObject({
      port: 3000,
      listenSocket: undefined,
      nodeId: hostname(),
      redisUrl: undefined,
      corsOrigins: [],
      maxPayloadBytes: 65536,
      logLevel: 'info',
      publishApiKeyGenerated: true,
      auth: {
        key: { kind: 'none' },
        allowGuests: true,
        guestRooms: ['*'],
        guestPublish: ['lobby', 'demo:*'],
        development: true,
      },
      limits: {
        maxConnections: 10_000,
        maxConnectionsPerUser: 100,
        clientEventRate: 20,
        clientEventBurst: 50,
        publishApiRate: 1000,
        maxClientBufferBytes: 1048576,
      },
      history: { size: 1000, ttlSeconds: 600, metaTtlSeconds: 86_400 },
      presenceRooms: [],
    });
    expect(config.publishApiKeys).toHaveLength(1);
    expect(config.publishApiKeys[0]?.length).toBeGreaterThanOrEqual(32);
  });

  it('turns guests off, and gives them no rooms and no publishing, once a token key is set', () => {
    expect(configOf({ AUTH_JWT_SECRET: SECRET }).auth).toEqual({
      key: { kind: 'secret', secret: SECRET },
      issuer: undefined,
      audience: undefined,
      allowGuests: false,
      guestRooms: [],
      guestPublish: [],
      development: false,
    });
    // Guests let in by ALLOW_GUESTS still read only what GUEST_ROOMS names.
    expect(configOf({ AUTH_JWT_SECRET: SECRET, ALLOW_GUESTS: 'true' }).auth).toMatchObject({
      allowGuests: true,
      guestRooms: [],
    });
  });

  it('puts the node id into LISTEN_SOCKET where it says {nodeId}, and checks the path it makes', () => {
    expect(
      configOf({ NODE_ID: 'a1b2c3d4e5f6', LISTEN_SOCKET: '/run/push/{nodeId}.sock' }),
    ).toMatchObject({
      nodeId: 'a1b2c3d4e5f6',
      listenSocket: '/run/push/a1b2c3d4e5f6.sock',
    });
    const long = loadConfig({
      NODE_ID: 'n'.repeat(64),
      LISTEN_SOCKET: `/run/${'p'.repeat(40)}/{nodeId}.sock`,
    });
    expect(long).toEqual({
      ok: false,
      problems: [expect.stringMatching(/^LISTEN_SOCKET: ".*n{64}\.sock" is longer than \d+ bytes/)],
    });
  });

  it('reads every variable', () => {
    const result = loadConfig({
      PORT: '8081',
      LISTEN_SOCKET: '/run/push/node-7.sock',
      NODE_ID: 'node-7.eu',
      REDIS_URL: 'redis://cache:6380/0',
      PUBLISH_API_KEYS: 'a-very-long-secret-key, another-long-secret-key',
      CORS_ORIGINS: 'https://a.example.com, http://localhost:5173',
      MAX_PAYLOAD_BYTES: '2048',
      LOG_LEVEL: 'debug',
      AUTH_JWKS_URL: 'https://auth.example.com/.well-known/jwks.json',
      AUTH_JWT_ISSUER: 'https://auth.example.com/',
      AUTH_JWT_AUDIENCE: 'push',
      ALLOW_GUESTS: 'yes',
      GUEST_ROOMS: 'lobby, news:*',
      GUEST_PUBLISH: 'lobby',
      MAX_CONNECTIONS: '500',
      MAX_CONNECTIONS_PER_USER: '0',
      CLIENT_EVENT_RATE: '5',
      CLIENT_EVENT_BURST: '10',
      PUBLISH_API_RATE: '0',
      MAX_CLIENT_BUFFER_BYTES: '262144',
      HISTORY_SIZE: '250',
      HISTORY_TTL: '3600',
      HISTORY_META_TTL: '7200',
      PRESENCE_ROOMS: 'chat:*, lobby',
      DRAIN_DELAY_MS: '500',
      DRAIN_SPREAD_MS: '1500',
      SHUTDOWN_TIMEOUT_MS: '9000',
      ADMIN_API_KEY: 'an-admin-key-of-16-chars',
      ADMIN_PORT: '9100',
    });
    expect(result).toEqual({
      ok: true,
      config: {
        port: 8081,
        listenSocket: '/run/push/node-7.sock',
        nodeId: 'node-7.eu',
        redisUrl: 'redis://cache:6380/0',
        publishApiKeys: ['a-very-long-secret-key', 'another-long-secret-key'],
        publishApiKeyGenerated: false,
        corsOrigins: ['https://a.example.com', 'http://localhost:5173'],
        maxPayloadBytes: 2048,
        logLevel: 'debug',
        auth: {
          key: { kind: 'jwks', url: 'https://auth.example.com/.well-known/jwks.json' },
          issuer: 'https://auth.example.com/',
          audience: 'push',
          allowGuests: true,
          guestRooms: ['lobby', 'news:*'],
          guestPublish: ['lobby'],
          development: false,
        },
        limits: {
          maxConnections: 500,
          maxConnectionsPerUser: 0,
          clientEventRate: 5,
          clientEventBurst: 10,
          publishApiRate: 0,
          maxClientBufferBytes: 262144,
        },
        history: { size: 250, ttlSeconds: 3600, metaTtlSeconds: 7200 },
        presenceRooms: ['chat:*', 'lobby'],
        drain: { delayMs: 500, spreadMs: 1500, timeoutMs: 9000 },
        adminApiKey: 'an-admin-key-of-16-chars',
        adminPort: 9100,
      },
    });
  });

  it('pins the algorithm by the type of the public key file', () => {
    const rsa = configOf({ AUTH_JWT_PUBLIC_KEY: publicKeyFile('rsa', 'rsa') }).auth.key;
    expect(rsa).toMatchObject({ kind: 'public-key', algorithm: 'RS256' });
    const ec = configOf({ AUTH_JWT_PUBLIC_KEY: publicKeyFile('ec', 'ec') }).auth.key;
    expect(ec).toMatchObject({ kind: 'public-key', algorithm: 'ES256' });
    const pem = rsa.kind === 'public-key' ? rsa.pem : '';
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });

  it.each([
    ['a missing file', join(keyDir, 'missing.pem'), /cannot read .*ENOENT/],
    ['a P-384 key', publicKeyFile('p384', 'ec', 'P-384'), /RSA \(RS256\) or P-256 EC/],
    ['an Ed25519 key', publicKeyFile('ed', 'ed25519'), /RSA \(RS256\) or P-256 EC/],
  ])('refuses %s as AUTH_JWT_PUBLIC_KEY', (_name, path, reason) => {
    const [problem] = problemsOf({ AUTH_JWT_PUBLIC_KEY: path });
    expect(problem).toMatch(/^AUTH_JWT_PUBLIC_KEY: /);
    expect(problem).toMatch(reason);
  });

  it('refuses more than one way of verifying tokens, and no way at all with guests off', () => {
    expect(
      problemsOf({ AUTH_JWT_SECRET: SECRET, AUTH_JWKS_URL: 'https://a.example.com/k' }),
    ).toEqual(['AUTH_JWT_SECRET, AUTH_JWKS_URL: set only one way of verifying tokens']);
    expect(problemsOf({ ALLOW_GUESTS: 'false' })[0]).toMatch(
      /^ALLOW_GUESTS: .*nobody could connect/,
    );
  });

  it("keeps rooms' offsets a day by default, never shorter than their history", () => {
    expect(configOf({ HISTORY_TTL: '60' }).history.metaTtlSeconds).toBe(86_400);
    expect(configOf({ HISTORY_TTL: '172800' }).history.metaTtlSeconds).toBe(172_800);
    expect(problemsOf({ HISTORY_TTL: '600', HISTORY_META_TTL: '599' })).toEqual([
      'HISTORY_META_TTL: must be at least HISTORY_TTL (600)',
    ]);
    expect(problemsOf({ HISTORY_META_TTL: '0' })).toEqual([
      'HISTORY_META_TTL: must be a whole number between 1 and 31536000 (got "0")',
    ]);
  });

  it('refuses a shutdown deadline shorter than the drain, and an admin port equal to PORT', () => {
    expect(
      problemsOf({ DRAIN_DELAY_MS: '5000', DRAIN_SPREAD_MS: '6000', SHUTDOWN_TIMEOUT_MS: '10000' }),
    ).toEqual(['SHUTDOWN_TIMEOUT_MS: must exceed DRAIN_DELAY_MS + DRAIN_SPREAD_MS (11000)']);
    expect(problemsOf({ PORT: '3000', ADMIN_PORT: '3000' })).toEqual([
      'ADMIN_PORT: must differ from PORT (3000)',
    ]);
  });

  it('says PUBLISH_API_KEY was renamed, without echoing it', () => {
    const [problem] = problemsOf({ PUBLISH_API_KEY: 'an-old-single-key-value' });
    expect(problem).toBe(
      'PUBLISH_API_KEY: renamed to PUBLISH_API_KEYS (comma-separated, to rotate keys)',
    );
  });

  it('treats empty variables as unset (as compose files produce them)', () => {
    const config = configOf({
      PORT: '',
      REDIS_URL: ' ',
      PUBLISH_API_KEYS: '',
      NODE_ID: '',
      AUTH_JWT_SECRET: ' ',
    });
    expect(config.port).toBe(3000);
    expect(config.redisUrl).toBeUndefined();
    expect(config.publishApiKeyGenerated).toBe(true);
    expect(config.auth.key).toEqual({ kind: 'none' });
  });

  it('accepts "*" as any origin', () => {
    expect(configOf({ CORS_ORIGINS: '*' }).corsOrigins).toBe('*');
  });

  it('reports one line per bad variable, naming it and the bad value', () => {
    const problems = problemsOf({
      PORT: '70000',
      NODE_ID: 'no spaces',
      REDIS_URL: 'http://redis:6379',
      PUBLISH_API_KEYS: 'long-enough-key-1,short',
      CORS_ORIGINS: 'https://ok.example.com,not-an-origin',
      MAX_PAYLOAD_BYTES: '12kb',
      LOG_LEVEL: 'verbose',
      ALLOW_GUESTS: 'maybe',
      GUEST_PUBLISH: 'lobby,bad room',
    });
    expect(problems).toHaveLength(9);
    expect(problems).toContain('PORT: must be a whole number between 0 and 65535 (got "70000")');
    expect(problems.find((p) => p.startsWith('NODE_ID:'))).toContain('"no spaces"');
    expect(problems.find((p) => p.startsWith('REDIS_URL:'))).toContain('redis://');
    expect(problems).toContain('PUBLISH_API_KEYS: every key must be at least 16 characters');
    expect(problems.find((p) => p.startsWith('CORS_ORIGINS:'))).toContain('"not-an-origin"');
    expect(problems.find((p) => p.startsWith('MAX_PAYLOAD_BYTES:'))).toContain('(got "12kb")');
    expect(problems.find((p) => p.startsWith('LOG_LEVEL:'))).toContain('"verbose"');
    expect(problems.find((p) => p.startsWith('ALLOW_GUESTS:'))).toContain('true or false');
    expect(problems.find((p) => p.startsWith('GUEST_PUBLISH:'))).toContain('"bad room"');
  });

  it('never echoes a secret in a problem', () => {
    expect(problemsOf({ PUBLISH_API_KEYS: 'secret-ish' })[0]).not.toContain('secret-ish');
    expect(problemsOf({ AUTH_JWT_SECRET: 'short-jwt-secret' })[0]).toBe(
      'AUTH_JWT_SECRET: must be at least 32 bytes (HS256 needs a 256-bit key)',
    );
  });

  it.each([
    ['PORT', '-1'],
    ['PORT', '3.5'],
    ['MAX_PAYLOAD_BYTES', '100'],
    ['MAX_PAYLOAD_BYTES', String(64 * 1024 * 1024)],
    ['REDIS_URL', 'not a url'],
    ['CORS_ORIGINS', 'https://example.com/path'],
    ['LISTEN_SOCKET', 'run/push/node.sock'],
    ['LISTEN_SOCKET', `/run/${'x'.repeat(110)}.sock`],
    ['AUTH_JWKS_URL', 'ftp://keys.example.com/jwks'],
    ['AUTH_JWT_PUBLIC_KEY', 'keys/public.pem'],
    ['GUEST_ROOMS', 'a*b'],
    ['CLIENT_EVENT_RATE', '0'],
    ['MAX_CONNECTIONS', 'lots'],
  ])('rejects %s=%s', (name, value) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.startsWith(`${name}: `)).toBe(true);
  });
});
