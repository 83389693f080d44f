import { z } from 'zod';

/** Treats empty and whitespace-only variables as unset, as shells and compose files produce them. */
export const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

/** A whole number in `[min, max]`, or undefined when unset; the message names the range. */
export const optionalIntegerIn = (min: number, max: number) => {
  const message = `must be a whole number between ${min} and ${max}`;
  return optionalString.pipe(
    z
      .string()
      .regex(/^\d+$/, message)
      .transform(Number)
      .pipe(z.number().int().min(min, message).max(max, message))
      .optional(),
  );
};

/** A whole number in `[min, max]`, or `fallback` when unset. */
export const integerIn = (min: number, max: number, fallback: number) =>
  optionalIntegerIn(min, max).pipe(z.number().optional().default(fallback));

/** `true` or `false` (also `1`/`0`, `yes`/`no`), or `undefined` when unset. */
export const booleanFlag = optionalString.pipe(
  z
    .string()
    .toLowerCase()
    .refine((value) => ['true', 'false', '1', '0', 'yes', 'no'].includes(value), {
      message: 'must be true or false',
    })
    .transform((value) => ['true', '1', 'yes'].includes(value))
    .optional(),
);

/** Splits a comma-separated list, dropping blanks. */
export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** True for an absolute `http:`/`https:` URL. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** True for an origin like `https://app.example.com` (scheme, host, optional port; no path). */
export function isOrigin(value: string): boolean {
  return isHttpUrl(value) && new URL(value).origin === value;
}

/** True for a `redis://` or `rediss://` URL with a host. */
export function isRedisUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** True for a Redis Cluster seed: `host:port`, or a `redis://`/`rediss://` URL with a port. */
export function isRedisSeed(value: string): boolean {
  if (isRedisUrl(value)) return true;
  const match = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/.exec(value);
  return match !== null && Number(match[2]) > 0 && Number(match[2]) < 65_536;
}
