import type { RequestHandler } from 'express';
import type { Config } from '../config/config.js';

/**
 * CORS for the HTTP API, with the same origins as Socket.IO: none configured means same-origin
 * only (no CORS headers at all).
 */
export function cors(origins: Config['corsOrigins']): RequestHandler {
  return (req, res, next) => {
    const origin = req.get('origin');
    const allowed =
      origin !== undefined && (origins === '*' || (origins as readonly string[]).includes(origin));
    if (allowed) {
      res.set('Access-Control-Allow-Origin', origins === '*' ? '*' : origin);
      res.vary('Origin');
      if (req.method === 'OPTIONS') {
        res.set('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
        res.set('Access-Control-Allow-Headers', 'Authorization, Content-Type');
        res.set('Access-Control-Max-Age', '600');
        res.status(204).end();
        return;
      }
    }
    next();
  };
}
