import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';

/** What an HS256 token's claims must satisfy (those `jose`'s `jwtVerify` is given too). */
export interface Hs256Claims {
  /** Required `iss`, when set. */
  issuer: string | undefined;
  /** Required `aud` (the claim may be a string or an array holding it), when set. */
  audience: string | undefined;
  /** Seconds of skew tolerated on `exp` and `nbf`. */
  clockTolerance: number;
}

/** A JWT's claims as they came, once the token is known to be good. */
export type TokenClaims = Record<string, unknown>;

const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** HMAC-SHA256 output, in bytes. */
const MAC_BYTES = 32;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A synchronous check of the common case, an HS256 token that is good, with Node's own HMAC
 * (a few microseconds) instead of WebCrypto's thread pool and promises, which cost a reconnect
 * storm a share of each node's CPU.
 *
 * It accepts only what `jose`'s `jwtVerify` accepts with the same secret and options, and
 * decides nothing else: anything unusual or wrong (another algorithm, a `crit` or `b64` header,
 * a bad signature, a claim out of bounds, malformed parts) gives `undefined`, and the caller
 * asks `jose`, whose answer (and error message) stands.
 */
export class Hs256Check {
  private readonly key: KeyObject;

  constructor(
    secret: string,
    private readonly claims: Hs256Claims,
  ) {
    this.key = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  /** The token's claims when it is a good HS256 token now; `undefined` to ask `jose`. */
  claimsOf(token: string, nowMs: number = Date.now()): TokenClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [header, payload, signature] = parts as [string, string, string];
    if (!parts.every(isBase64url)) return undefined;
    const protectedHeader = jsonObject(header);
    if (
      protectedHeader === undefined ||
      protectedHeader.alg !== 'HS256' ||
      Object.hasOwn(protectedHeader, 'crit') ||
      Object.hasOwn(protectedHeader, 'b64')
    ) {
      return undefined;
    }
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== MAC_BYTES) return undefined;
    const expected = createHmac('sha256', this.key).update(`${header}.${payload}`).digest();
    if (!timingSafeEqual(given, expected)) return undefined;
    const claims = jsonObject(payload);
    if (claims === undefined || !this.acceptable(claims, Math.floor(nowMs / 1000))) {
      return undefined;
    }
    return claims;
  }

  /** The checks `jwtVerify` makes with `requiredClaims: ['exp', 'sub']`, issuer and audience. */
  private acceptable(claims: TokenClaims, now: number): boolean {
    const { issuer, audience, clockTolerance } = this.claims;
    if (!Object.hasOwn(claims, 'exp') || !Object.hasOwn(claims, 'sub')) return false;
    if (issuer !== undefined && claims.iss !== issuer) return false;
    if (audience !== undefined && !hasAudience(claims.aud, audience)) return false;
    const { iat, nbf, exp } = claims;
    if (iat !== undefined && typeof iat !== 'number') return false;
    if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + clockTolerance)) return false;
    return typeof exp === 'number' && exp > now - clockTolerance;
  }
}

/** Unpadded base64url of whole bytes (a length of 4n + 1 is no encoding at all). */
function isBase64url(part: string): boolean {
  return part.length % 4 !== 1 && BASE64URL.test(part);
}

function hasAudience(claim: unknown, audience: string): boolean {
  if (typeof claim === 'string') return claim === audience;
  return Array.isArray(claim) && claim.includes(audience);
}

/** The base64url part as a JSON object (not an array), or `undefined`. */
function jsonObject(part: string): TokenClaims | undefined {
  try {
    const value: unknown = JSON.parse(utf8.decode(Buffer.from(part, 'base64url')));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as TokenClaims)
      : undefined;
  } catch {
    return undefined;
  }
}
