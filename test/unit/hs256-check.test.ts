import { createHmac } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Hs256Check } from '../../src/auth/hs256-check.js';
import { verifierFor } from '../support/tokens.js';

const SECRET = 'an-hs256-check-secret-of-32-bytes-or-more';
const OTHER = 'another-secret-of-32-bytes-or-more-too!!';
const NOW_MS = 1_900_000_000_500;
const NOW = Math.floor(NOW_MS / 1000);
const TOLERANCE = 5;
const ISSUER = 'https://issuer.example';
const AUDIENCE = 'push';

const b64 = (text: string) => Buffer.from(text).toString('base64url');
const json = (value: unknown) => b64(JSON.stringify(value));

/** A compact token of the given header and payload parts, signed with HMAC-SHA256 of `secret`. */
function signed(header: string, payload: string, secret = SECRET): string {
  const mac = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${mac}`;
}

const hs256 = (claims: Record<string, unknown>, header: object = { alg: 'HS256' }) =>
  signed(json(header), json(claims));
const good = { sub: 'alice', exp: NOW + 3600 };

/** Tokens, and whether `jose` accepts each (with the issuer and audience set or not). */
const cases: Array<{
  name: string;
  token: () => Promise<string> | string;
  accepted: boolean;
  /** Accepted by jose, but unusual: left to jose rather than recognised here. */
  leftToJose?: true;
}> = [
  { name: 'a plain good token', token: () => hs256(good), accepted: true },
  {
    name: 'one signed by jose itself, with iat and a past nbf',
    token: () =>
      new SignJWT({ ...good, iat: NOW - 10, nbf: NOW - 10 })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .sign(new TextEncoder().encode(SECRET)),
    accepted: true,
  },
  {
    name: 'expired within the tolerance',
    token: () => hs256({ ...good, exp: NOW - 4 }),
    accepted: true,
  },
  {
    name: 'expired at the tolerance',
    token: () => hs256({ ...good, exp: NOW - 5 }),
    accepted: false,
  },
  { name: 'expired', token: () => hs256({ ...good, exp: NOW - 60 }), accepted: false },
  {
    name: 'nbf within the tolerance',
    token: () => hs256({ ...good, nbf: NOW + 5 }),
    accepted: true,
  },
  { name: 'nbf ahead', token: () => hs256({ ...good, nbf: NOW + 6 }), accepted: false },
  {
    name: 'exp as a string',
    token: () => hs256({ ...good, exp: String(NOW + 60) }),
    accepted: false,
  },
  { name: 'nbf as a string', token: () => hs256({ ...good, nbf: String(NOW) }), accepted: false },
  { name: 'iat as a string', token: () => hs256({ ...good, iat: String(NOW) }), accepted: false },
  { name: 'no sub', token: () => hs256({ exp: NOW + 60 }), accepted: false },
  { name: 'no exp', token: () => hs256({ sub: 'alice' }), accepted: false },
  {
    name: 'HS384',
    token: () =>
      new SignJWT(good).setProtectedHeader({ alg: 'HS384' }).sign(new TextEncoder().encode(SECRET)),
    accepted: false,
  },
  { name: 'alg none', token: () => `${json({ alg: 'none' })}.${json(good)}.`, accepted: false },
  {
    name: 'a crit header',
    token: () => hs256(good, { alg: 'HS256', crit: ['exp'], exp: 1 }),
    accepted: false,
  },
  {
    name: 'an unencoded payload (b64: false)',
    token: () => hs256(good, { alg: 'HS256', b64: false, crit: ['b64'] }),
    accepted: false,
  },
  {
    name: 'a header that is no object',
    token: () => signed(json(['HS256']), json(good)),
    accepted: false,
  },
  {
    name: 'claims that are an array',
    token: () => signed(json({ alg: 'HS256' }), json([good])),
    accepted: false,
  },
  {
    name: 'claims that are no JSON',
    token: () => signed(json({ alg: 'HS256' }), b64('{"sub":')),
    accepted: false,
  },
  {
    name: 'claims that are no UTF-8',
    token: () =>
      signed(json({ alg: 'HS256' }), Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')),
    accepted: false,
  },
  {
    name: 'another secret',
    token: () => signed(json({ alg: 'HS256' }), json(good), OTHER),
    accepted: false,
  },
  {
    name: 'a signature one character off',
    token: () => {
      const token = hs256(good);
      return `${token.slice(0, -2)}${token.at(-2) === 'A' ? 'B' : 'A'}${token.at(-1)}`;
    },
    accepted: false,
  },
  { name: 'a padded signature', token: () => `${hs256(good)}=`, accepted: true, leftToJose: true },
  { name: 'four parts', token: () => `${hs256(good)}.${json(good)}`, accepted: false },
  { name: 'two parts', token: () => hs256(good).split('.').slice(0, 2).join('.'), accepted: false },
];

/** Cases that only differ once an issuer and an audience are required. */
const claimCases: Array<{ name: string; claims: Record<string, unknown>; accepted: boolean }> = [
  {
    name: 'iss and aud as required',
    claims: { ...good, iss: ISSUER, aud: AUDIENCE },
    accepted: true,
  },
  {
    name: 'aud as an array holding it',
    claims: { ...good, iss: ISSUER, aud: ['x', AUDIENCE] },
    accepted: true,
  },
  { name: 'another aud', claims: { ...good, iss: ISSUER, aud: 'other' }, accepted: false },
  { name: 'no aud', claims: { ...good, iss: ISSUER }, accepted: false },
  {
    name: 'another iss',
    claims: { ...good, iss: 'https://evil.example', aud: AUDIENCE },
    accepted: false,
  },
  { name: 'no iss', claims: { ...good, aud: AUDIENCE }, accepted: false },
];

async function joseAccepts(token: string, issuer?: string, audience?: string): Promise<unknown> {
  return jwtVerify(token, new TextEncoder().encode(SECRET), {
    algorithms: ['HS256'],
    issuer,
    audience,
    clockTolerance: TOLERANCE,
    requiredClaims: ['exp', 'sub'],
    currentDate: new Date(NOW_MS),
  }).then(
    (result) => result.payload,
    () => undefined,
  );
}

describe('HS256 check without WebCrypto', () => {
  const plain = new Hs256Check(SECRET, {
    issuer: undefined,
    audience: undefined,
    clockTolerance: TOLERANCE,
  });
  const strict = new Hs256Check(SECRET, {
    issuer: ISSUER,
    audience: AUDIENCE,
    clockTolerance: TOLERANCE,
  });

  it.each(cases)('decides $name as jose does', async ({ token, accepted, leftToJose }) => {
    const text = await token();
    const theirs = await joseAccepts(text);
    expect(theirs !== undefined).toBe(accepted);
    // Accepted by both, with the same claims; not recognised here means jose is asked.
    const mine = plain.claimsOf(text, NOW_MS);
    expect(mine).toEqual(leftToJose ? undefined : theirs);
  });

  it.each(claimCases)('decides $name as jose does', async ({ claims, accepted }) => {
    const text = hs256(claims);
    const theirs = await joseAccepts(text, ISSUER, AUDIENCE);
    expect(theirs !== undefined).toBe(accepted);
    expect(strict.claimsOf(text, NOW_MS)).toEqual(theirs);
  });
});

describe('token verifier with a secret', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('recognises a good token without WebCrypto, and asks jose about any other', async () => {
    const verifier = verifierFor({ kind: 'secret', secret: SECRET });
    const subtleVerify = vi.spyOn(crypto.subtle, 'verify');
    const exp = Math.floor(Date.now() / 1000) + 600;
    const result = await verifier.verify(hs256({ sub: 'alice', exp, rooms: ['chat:*'] }));
    expect(result).toMatchObject({
      ok: true,
      identity: { userId: 'alice', expiresAt: exp * 1000 },
    });
    expect(subtleVerify).not.toHaveBeenCalled();

    const forged = signed(json({ alg: 'HS256' }), json({ sub: 'alice', exp }), OTHER);
    expect(await verifier.verify(forged)).toEqual({
      ok: false,
      code: 'token_invalid',
      message: 'token signature does not verify',
    });
    expect(subtleVerify).toHaveBeenCalledTimes(1);
  });
});
