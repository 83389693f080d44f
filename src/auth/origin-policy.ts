/**
 * May a browser page from `origin` use this node? A request without `Origin` (not a browser, or a
 * same-origin navigation) may. With `CORS_ORIGINS` unset only the node's own origin may — the
 * `Origin` host must be the `Host` the request was sent to (nginx passes the client's `Host` on);
 * `*` allows any origin; a list allows exactly those.
 *
 * @param origin - the request's `Origin` header, if any.
 * @param host - the request's `Host` header, if any.
 * @param allowed - `CORS_ORIGINS`: empty for same-origin only, `'*'` for any.
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: readonly string[] | '*',
): boolean {
  if (origin === undefined) return true;
  if (allowed === '*') return true;
  if (allowed.length > 0) return allowed.includes(origin);
  try {
    return host !== undefined && new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
