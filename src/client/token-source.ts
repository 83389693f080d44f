/**
 * Where a client's connection token comes from: a fixed string, or a function (sync or async)
 * called before every connection attempt and before the token expires, e.g. one that asks the
 * application's backend for a fresh token.
 */
export type TokenSource = string | (() => string | Promise<string>);

/** Reads a token from its source. */
export async function readToken(source: TokenSource): Promise<string> {
  return typeof source === 'string' ? source : await source();
}

/**
 * The `exp` of a JWT in milliseconds since the epoch, read without verifying it (the server
 * verifies); `undefined` when the token has none or is not a JWT.
 */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const claims: unknown = JSON.parse(atob(base64));
    if (typeof claims !== 'object' || claims === null || !('exp' in claims)) return undefined;
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * When to refresh a token that expires at `expiresAt`: a tenth of its remaining life before it,
 * between 5 s and 60 s ahead, and never in the past.
 */
export function refreshDelay(expiresAt: number, now = Date.now()): number {
  const remaining = expiresAt - now;
  const margin = Math.min(60_000, Math.max(5_000, remaining / 10));
  return Math.max(0, remaining - margin);
}
