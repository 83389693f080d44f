/**
 * An exponential backoff with jitter: `baseMs` doubled per attempt (1, 2, …), capped at `maxMs`,
 * then a random half of it taken off, so that many clients told to wait at once come back spread.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return ceiling * (0.5 + Math.random() / 2);
}
