import { SignJWT } from 'jose';

/** What a development or test token grants. */
export interface TokenGrant {
  /** The user id (`sub`). */
  sub: string;
  /** Private room patterns it may subscribe to (`rooms` claim). */
  rooms?: readonly string[];
  /** Room patterns it may publish to (`publish` claim; `*` includes everyone). */
  publish?: readonly string[];
  /** May read the admin endpoints (`admin` claim). */
  admin?: boolean;
  /** Lifetime in seconds from now. */
  ttlSeconds: number;
  issuer?: string;
  audience?: string;
}

/**
 * Signs an HS256 token with `secret`, as the node verifies it with `AUTH_JWT_SECRET`: for
 * development (`npm run token`), tests and the benchmark. Production tokens come from the
 * application's own backend.
 */
export async function signToken(
  secret: string,
  grant: TokenGrant,
  now = Date.now(),
): Promise<string> {
  const issuedAt = Math.floor(now / 1000);
  const jwt = new SignJWT({
    ...(grant.rooms === undefined ? {} : { rooms: [...grant.rooms] }),
    ...(grant.publish === undefined ? {} : { publish: [...grant.publish] }),
    ...(grant.admin === true ? { admin: true } : {}),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(grant.sub)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + grant.ttlSeconds);
  if (grant.issuer !== undefined) jwt.setIssuer(grant.issuer);
  if (grant.audience !== undefined) jwt.setAudience(grant.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
