import { signToken, type TokenGrant } from '../../src/auth/token-signer.js';
import { createTokenVerifier, type TokenVerifier } from '../../src/auth/token-verifier.js';
import type { AuthConfig, JwtKey } from '../../src/config/config.js';

/** The HS256 secret of the test suites' nodes (`AUTH_JWT_SECRET`). */
export const TEST_JWT_SECRET = 'test-suite-jwt-secret-of-at-least-32-bytes';

let users = 0;

/**
 * A token signed with {@link TEST_JWT_SECRET}. By default a fresh user who may subscribe to any
 * private room and publish anywhere (everyone included): what the delivery tests need. Narrow it
 * with `rooms` / `publish` to test permissions.
 */
export function testToken(
  grant: Partial<TokenGrant> = {},
  secret = TEST_JWT_SECRET,
): Promise<string> {
  return signToken(secret, {
    sub: `user-${++users}`,
    rooms: ['*'],
    publish: ['*'],
    ttlSeconds: 3600,
    ...grant,
  });
}

/** A node's auth settings for `key`: no issuer or audience, no guests, unless `extra` says so. */
export function authConfig(key: JwtKey, extra: Partial<AuthConfig> = {}): AuthConfig {
  return {
    key,
    issuer: undefined,
    audience: undefined,
    allowGuests: false,
    guestRooms: [],
    guestPublish: [],
    development: false,
    ...extra,
  };
}

/** The verifier a node builds from {@link authConfig}. */
export function verifierFor(key: JwtKey, extra: Partial<AuthConfig> = {}): TokenVerifier {
  const verifier = createTokenVerifier(authConfig(key, extra));
  if (verifier === undefined) throw new Error('no verifier');
  return verifier;
}
