import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler } from 'express';

/**
 * Where `npm run build` puts the browser bundles (`push-client.js`) and the demo page. The same
 * relative path works from `src/http/` (tests, `tsx`) and from `dist/http/` (the built node).
 */
export const WEB_ASSETS_DIR = fileURLToPath(new URL('../../dist/public/', import.meta.url));

/** The pages load only their own scripts and styles and talk only to their own origin. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** True when the browser assets have been built. */
export function webAssetsBuilt(dir = WEB_ASSETS_DIR): boolean {
  return existsSync(`${dir}index.html`);
}

/**
 * Serves the demo page at `/`, the admin page at `/admin` (its data needs the admin credential,
 * the page itself does not) and the browser client at `/push-client.js` (ES module), revalidated
 * on every load (`no-cache` + ETag) so that a deploy is picked up at once.
 */
export function webAssets(dir = WEB_ASSETS_DIR): RequestHandler {
  return express.static(dir, {
    index: 'index.html',
    extensions: ['html'],
    cacheControl: false,
    setHeaders: (res) => {
      res.set('Cache-Control', 'no-cache');
      res.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
      res.set('X-Content-Type-Options', 'nosniff');
    },
  });
}
