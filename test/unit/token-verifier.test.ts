import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, type CryptoKey as JoseKey, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../../src/auth/token-verifier.js';
import { authConfig, verifierFor } from '../support/tokens.js';

const SECRET = 'a-token-verifier-secret-of-32-bytes-or-more';
const now = () => Math.floor(Date.now() / 1000);

const hs = verifierFor({ kind: 'secret', secret: SECRET });
const secretKey = new TextEncoder().encode(SECRET);

/** An HS256 token with `claims`, `sub: alice` and an expiry an hour away unless overridden. */
function hsToken(claims: Record<string, unknown> = {}, key: Uint8Array = secretKey) {
  return new SignJWT({ sub: 'alice', exp: now() + 3600, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(key);
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('token verification (HS256 secret)', () => {
  it('turns a valid token into an identity with its grants and expiry', async () => {
    const exp = now() + 600;
    const token = await hsToken({ exp, rooms: ['private:team-1'], publish: ['chat:*'] });
    const result = await hs.verify(token);
    if (!result.ok) throw new Error(result.message);
    expect(result.identity).toMatchObject({
      userId: 'alice',
      guest: false,
      expiresAt: exp * 1000,
      admin: false,
    });
    expect(result.identity.rooms.matches('private:team-1')).toBe(true);
    expect(result.identity.rooms.matches('private:team-2')).toBe(false);
    expect(result.identity.publish.matches('chat:9')).toBe(true);
    expect(result.identity.publish.any).toBe(false);
  });

  it.each([
    [
      'a forged signature',
      () => hsToken({}, new TextEncoder().encode('x'.repeat(40))),
      'signature',
    ],
    [
      'alg: none',
      async () => `${b64({ alg: 'none' })}.${b64({ sub: 'alice', exp: now() + 60 })}.`,
      '',
    ],
    ['no sub', () => hsToken({ sub: undefined }), 'sub'],
    [
      'no exp',
      () => new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).sign(secretKey),
      'exp',
    ],
    ['a sub that cannot name a room', () => hsToken({ sub: 'alice smith' }), 'sub'],
    ['a sub of 124 characters', () => hsToken({ sub: 'a'.repeat(124) }), 'sub'],
    ['rooms that is not an array', () => hsToken({ rooms: 'private:x' }), 'rooms'],
    ['a publish pattern with a space', () => hsToken({ publish: ['chat *'] }), 'publish'],
    ['admin that is not a boolean', () => hsToken({ admin: 'yes' }), 'admin'],
    ['nbf a minute ahead', () => hsToken({ nbf: now() + 60 }), 'nbf'],
    ['garbage', async () => 'not.a.jwt', 'malformed'],
    ['two parts', async () => 'abc.def', 'malformed'],
  ])('refuses %s with token_invalid', async (_name, make, mentions) => {
    const result = await hs.verify(await make());
    expect(result).toMatchObject({ ok: false, code: 'token_invalid' });
    if (!result.ok) expect(result.message).toContain(mentions);
  });

  it('reads the admin claim', async () => {
    const result = await hs.verify(await hsToken({ admin: true }));
    expect(result).toMatchObject({ ok: true, identity: { admin: true } });
  });

  it.each([
    ['a number', 42],
    ['an object', { token: 'x' }],
    ['an empty string', ''],
    ['8 KB of text', 'x'.repeat(8193)],
  ])('refuses %s as a token without trying to parse it', async (_name, value) => {
    expect(await hs.verify(value)).toMatchObject({ ok: false, code: 'token_invalid' });
  });

  it('tolerates 5 s of clock skew on exp, not more', async () => {
    expect((await hs.verify(await hsToken({ exp: now() - 3 }))).ok).toBe(true);
    expect(await hs.verify(await hsToken({ exp: now() - 10 }))).toMatchObject({
      ok: false,
      code: 'token_expired',
    });
  });

  it('checks iss and aud when configured', async () => {
    const strict = verifierFor(
      { kind: 'secret', secret: SECRET },
      { issuer: 'https://auth.example.com', audience: 'push' },
    );
    const good = await hsToken({ iss: 'https://auth.example.com', aud: 'push' });
    expect((await strict.verify(good)).ok).toBe(true);
    for (const claims of [
      { iss: 'https://evil.example.com', aud: 'push' },
      { iss: 'https://auth.example.com', aud: 'other' },
      {},
    ]) {
      const result = await strict.verify(await hsToken(claims));
      expect(result, JSON.stringify(claims)).toMatchObject({ ok: false, code: 'token_invalid' });
    }
  });
});

describe('token verification (public keys)', () => {
  it('verifies RS256 with an RSA key, and refuses an HS256 token signed with the key text', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const pem = await exportSPKI(publicKey);
    const rs = verifierFor({ kind: 'public-key', path: '/k.pem', pem, algorithm: 'RS256' });
    const good = await new SignJWT({ sub: 'bob', exp: now() + 60 })
      .setProtectedHeader({ alg: 'RS256' })
      .sign(privateKey);
    expect(await rs.verify(good)).toMatchObject({ ok: true, identity: { userId: 'bob' } });
    // The classic confusion: the public key, public, used as an HMAC secret.
    const confused = await hsToken({ sub: 'mallory' }, new TextEncoder().encode(pem));
    expect(await rs.verify(confused)).toMatchObject({ ok: false, code: 'token_invalid' });
    // And an RS256 token is refused by a node that verifies HS256.
    expect(await hs.verify(good)).toMatchObject({ ok: false, code: 'token_invalid' });
    const none = `${b64({ alg: 'none' })}.${b64({ sub: 'bob', exp: now() + 60 })}.`;
    expect(await rs.verify(none)).toMatchObject({ ok: false, code: 'token_invalid' });
  });

  it('verifies ES256 with a P-256 key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const es = verifierFor({
      kind: 'public-key',
      path: '/k.pem',
      pem: await exportSPKI(publicKey),
      algorithm: 'ES256',
    });
    const token = await new SignJWT({ sub: 'carol', exp: now() + 60 })
      .setProtectedHeader({ alg: 'ES256' })
      .sign(privateKey);
    expect(await es.verify(token)).toMatchObject({ ok: true, identity: { userId: 'carol' } });
  });
});

describe('token verification (JWKS)', () => {
  let server: Server;
  let url: string;
  let keys: Awaited<ReturnType<typeof generateKeyPair>>[];

  beforeAll(async () => {
    keys = [
      await generateKeyPair('RS256', { extractable: true }),
      await generateKeyPair('ES256', { extractable: true }),
    ];
    const jwks = {
      keys: await Promise.all(
        keys.map(async ({ publicKey }, index) => ({
          ...(await exportJWK(publicKey)),
          kid: `key-${index}`,
          alg: index === 0 ? 'RS256' : 'ES256',
          use: 'sig',
        })),
      ),
    };
    server = createServer((req, res) => {
      if (req.url !== '/jwks.json') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('verifies tokens signed with any key of the set, chosen by kid', async () => {
    const jwks = verifierFor({ kind: 'jwks', url });
    for (const [index, alg] of [
      [0, 'RS256'],
      [1, 'ES256'],
    ] as const) {
      const token = await new SignJWT({ sub: `user-${index}`, exp: now() + 60 })
        .setProtectedHeader({ alg, kid: `key-${index}` })
        .sign(keys[index]?.privateKey as JoseKey);
      expect(await jwks.verify(token)).toMatchObject({
        ok: true,
        identity: { userId: `user-${index}` },
      });
    }
    const unknown = await generateKeyPair('RS256');
    const stranger = await new SignJWT({ sub: 'x', exp: now() + 60 })
      .setProtectedHeader({ alg: 'RS256', kid: 'key-0' })
      .sign(unknown.privateKey);
    expect(await jwks.verify(stranger)).toMatchObject({ ok: false, code: 'token_invalid' });
    // A key set never verifies HS256, whatever key the token names.
    expect(await jwks.verify(await hsToken())).toMatchObject({ ok: false, code: 'token_invalid' });
  });

  it('answers unavailable, not invalid, when the key set cannot be fetched', async () => {
    const down = verifierFor({ kind: 'jwks', url: 'http://127.0.0.1:1/jwks.json' });
    const token = await new SignJWT({ sub: 'x', exp: now() + 60 })
      .setProtectedHeader({ alg: 'RS256', kid: 'key-0' })
      .sign(keys[0]?.privateKey as JoseKey);
    expect(await down.verify(token)).toMatchObject({ ok: false, code: 'unavailable' });
  });
});

describe('no key configured', () => {
  it('has no verifier (every connection is a guest)', () => {
    expect(createTokenVerifier(authConfig({ kind: 'none' }))).toBeUndefined();
  });
});
