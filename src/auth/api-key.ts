import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares two secrets in constant time (both are hashed first, so their lengths leak nothing).
 */
export function secretsEqual(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * The index of `given` among `keys`, or -1. Every key is compared, in constant time each, so the
 * time taken does not tell which key (or how many) matched.
 */
export function matchingKey(given: string, keys: readonly string[]): number {
  let found = -1;
  keys.forEach((key, index) => {
    if (secretsEqual(given, key) && found === -1) found = index;
  });
  return found;
}

/**
 * The API key in an `Authorization: Bearer <key>` header value, or `undefined` when the header
 * is missing or has another form.
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}
