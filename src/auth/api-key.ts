import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares two secrets in constant time (both are hashed first, so their lengths leak nothing).
 */
export function secretsEqual(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * The API key in an `Authorization: Bearer <key>` header value, or `undefined` when the header
 * is missing or has another form.
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}
