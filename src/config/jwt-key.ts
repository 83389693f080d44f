import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The asymmetric algorithms a token may be signed with, pinned by the configured key's type. */
export type AsymmetricAlgorithm = 'RS256' | 'ES256';

/** How tokens are verified. */
export type JwtKey =
  /** HS256 with a shared secret (`AUTH_JWT_SECRET`). */
  | { kind: 'secret'; secret: string }
  /** RS256 or ES256 with a PEM public key read from `AUTH_JWT_PUBLIC_KEY`. */
  | { kind: 'public-key'; path: string; pem: string; algorithm: AsymmetricAlgorithm }
  /** RS256 or ES256 with the keys of a JWKS endpoint (`AUTH_JWKS_URL`), fetched and cached. */
  | { kind: 'jwks'; url: string }
  /** No key: every connection is a guest (and guests must be allowed). */
  | { kind: 'none' };

/** Smallest HS256 secret: RFC 7518 asks for a key at least as long as the hash (256 bits). */
export const MIN_JWT_SECRET_BYTES = 32;

/**
 * Reads a PEM public key and the one algorithm it may verify: RS256 for an RSA key, ES256 for an
 * EC key on P-256. Anything else is refused with a reason.
 */
export function readPublicKey(path: string): { pem: string; algorithm: AsymmetricAlgorithm } {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new Error(`cannot read ${path} (${code})`);
  }
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new Error(`${path} is not a PEM public key`);
  }
  if (key.asymmetricKeyType === 'rsa') return { pem, algorithm: 'RS256' };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return { pem, algorithm: 'ES256' };
  }
  throw new Error(`${path} must hold an RSA (RS256) or P-256 EC (ES256) public key`);
}
