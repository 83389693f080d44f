import {
  createRemoteJWKSet,
  errors,
  importSPKI,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import type { AuthConfig } from '../config/config.js';
import { ErrorCode, USER_ID_PATTERN } from '../protocol/index.js';
import { Hs256Check } from './hs256-check.js';
import type { Identity } from './identity.js';
import { compileRoomPatterns, isRoomPattern } from './room-pattern.js';

/** The outcome of {@link TokenVerifier.verify}. */
export type TokenVerification =
  | { ok: true; identity: Identity }
  | {
      ok: false;
      code:
        | typeof ErrorCode.TokenInvalid
        | typeof ErrorCode.TokenExpired
        | typeof ErrorCode.Unavailable;
      message: string;
    };

/** Checks connection tokens and turns them into identities. */
export interface TokenVerifier {
  /** Verifies `token` (signature, algorithm, `exp`, `nbf`, `iss`, `aud`, claims). Never throws. */
  verify(token: unknown): Promise<TokenVerification>;
}

/** Clock skew tolerated between the token's issuer and this node, for `exp` and `nbf`. */
export const CLOCK_TOLERANCE_S = 5;
/** Longest token accepted: far above any real one, far below what would cost to parse. */
const MAX_TOKEN_LENGTH = 8192;

type VerifyKey = Parameters<typeof jwtVerify>[1] | JWTVerifyGetKey;

/**
 * The verifier for the configured key, or `undefined` when no key is configured (guests only).
 * Algorithms are pinned by the key's type: HS256 for a secret, RS256 or ES256 for the public key
 * (whichever its type allows), RS256 and ES256 for a JWKS (asymmetric only). `alg: none` and a
 * token signed with another algorithm are refused.
 */
export function createTokenVerifier(auth: AuthConfig): TokenVerifier | undefined {
  const { key } = auth;
  let getKey: () => Promise<VerifyKey>;
  let algorithms: string[];
  /** HS256: good tokens are recognised synchronously; `jose` has the last word on the rest. */
  let fast: Hs256Check | undefined;
  switch (key.kind) {
    case 'none':
      return undefined;
    case 'secret': {
      // Imported once: jose would import raw bytes again for every token.
      const imported = crypto.subtle.importKey(
        'raw',
        new TextEncoder().encode(key.secret),
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['verify'],
      );
      getKey = () => imported;
      algorithms = ['HS256'];
      fast = new Hs256Check(key.secret, {
        issuer: auth.issuer,
        audience: auth.audience,
        clockTolerance: CLOCK_TOLERANCE_S,
      });
      break;
    }
    case 'public-key': {
      const imported = importSPKI(key.pem, key.algorithm);
      getKey = () => imported;
      algorithms = [key.algorithm];
      break;
    }
    case 'jwks': {
      // Cached by jose; refetched when a token names an unknown key id (at most every 30 s).
      const jwks = createRemoteJWKSet(new URL(key.url), {
        timeoutDuration: 5000,
        cooldownDuration: 30_000,
        cacheMaxAge: 10 * 60_000,
      });
      getKey = async () => jwks;
      algorithms = ['RS256', 'ES256'];
      break;
    }
  }
  const options = {
    algorithms,
    issuer: auth.issuer,
    audience: auth.audience,
    clockTolerance: CLOCK_TOLERANCE_S,
    requiredClaims: ['exp', 'sub'],
  };
  return {
    async verify(token) {
      if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN_LENGTH) {
        return invalid(`token must be a JWT string of at most ${MAX_TOKEN_LENGTH} characters`);
      }
      const claims = fast?.claimsOf(token);
      if (claims !== undefined) return identityOf(claims);
      let payload: JWTPayload;
      try {
        const verifyKey = await getKey();
        // jwtVerify is overloaded on the key's kind (a key or a JWKS getter).
        ({ payload } =
          typeof verifyKey === 'function'
            ? await jwtVerify(token, verifyKey, options)
            : await jwtVerify(token, verifyKey, options));
      } catch (error) {
        return failure(error, key.kind === 'jwks');
      }
      return identityOf(payload);
    },
  };
}

function identityOf(payload: JWTPayload): TokenVerification {
  const { sub, exp } = payload;
  if (typeof sub !== 'string' || !USER_ID_PATTERN.test(sub)) {
    return invalid('sub must be 1-123 characters of letters, digits, ":", "_", "." or "-"');
  }
  const rooms = patternsClaim(payload.rooms);
  const publish = patternsClaim(payload.publish);
  if (rooms === undefined) return invalid('rooms must be an array of room patterns');
  if (publish === undefined) return invalid('publish must be an array of room patterns');
  const { admin = false } = payload;
  if (typeof admin !== 'boolean') return invalid('admin must be true or false');
  return {
    ok: true,
    identity: {
      userId: sub,
      guest: false,
      rooms: compileRoomPatterns(rooms),
      publish: compileRoomPatterns(publish),
      plainRooms: undefined,
      // `exp` is required and checked by jwtVerify: a number of seconds.
      expiresAt: (exp as number) * 1000,
      admin,
    },
  };
}

/** A claim of room patterns: absent (none) or an array of patterns; anything else is invalid. */
function patternsClaim(claim: unknown): string[] | undefined {
  if (claim === undefined) return [];
  if (!Array.isArray(claim) || claim.length > 1000 || !claim.every(isRoomPattern)) return undefined;
  return claim;
}

function invalid(message: string): TokenVerification {
  return { ok: false, code: ErrorCode.TokenInvalid, message };
}

/** What went wrong, in words a client developer can act on (never the token itself). */
function failure(error: unknown, remoteKeys: boolean): TokenVerification {
  if (error instanceof errors.JWTExpired) {
    return { ok: false, code: ErrorCode.TokenExpired, message: 'token expired' };
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    return invalid(`token claim ${error.claim} is not acceptable: ${error.reason}`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return invalid('token algorithm is not allowed for the configured key');
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalid('token signature does not verify');
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return invalid('no key of the key set matches the token');
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
    return invalid('token is malformed');
  }
  // Anything else while a key set is fetched (timeout, network, a bad answer) is not the token's
  // fault: the client may retry.
  if (remoteKeys) {
    return {
      ok: false,
      code: ErrorCode.Unavailable,
      message: 'cannot check the token right now (key set unreachable); retry',
    };
  }
  return invalid('token is malformed');
}
