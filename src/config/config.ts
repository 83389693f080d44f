import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { ROOM_PATTERN_SYNTAX } from '../protocol/index.js';
import {
  booleanFlag,
  integerIn,
  isHttpUrl,
  isOrigin,
  isRedisSeed,
  isRedisUrl,
  optionalIntegerIn,
  optionalString,
  splitList,
} from './env-values.js';
import { type JwtKey, MIN_JWT_SECRET_BYTES, readPublicKey } from './jwt-key.js';

export type { AsymmetricAlgorithm, JwtKey } from './jwt-key.js';

/** Who may connect, and what guests may do. */
export interface AuthConfig {
  /** How connection tokens are verified. */
  key: JwtKey;
  /** Required `iss` claim, when set. */
  issuer: string | undefined;
  /** Required `aud` claim, when set. */
  audience: string | undefined;
  /** Connections without a token get a guest identity (else they are refused). */
  allowGuests: boolean;
  /** Room patterns guests may subscribe to (never `private:` or `user:` rooms). */
  guestRooms: readonly string[];
  /** Room patterns guests may publish to (never `private:` or `user:` rooms, never everyone). */
  guestPublish: readonly string[];
  /** True when nothing about auth was configured: the permissive development defaults apply. */
  development: boolean;
}

/** Limits that keep one client from hurting the others. */
export interface LimitsConfig {
  /** Connections one node accepts; further handshakes get 503 (0 = no limit). */
  maxConnections: number;
  /** Connections one user may hold across the cluster (0 = no limit). */
  maxConnectionsPerUser: number;
  /** Client events (`subscribe`, `unsubscribe`, `publish`, `refresh`) per second per connection. */
  clientEventRate: number;
  /** Client events a connection may send at once before the rate applies. */
  clientEventBurst: number;
  /** `POST /api/publish` requests per second per API key (0 = no limit). */
  publishApiRate: number;
  /** Bytes a node may hold for one client that reads too slowly before it cuts it off. */
  maxClientBufferBytes: number;
}

/** How a node leaves on SIGTERM: unnoticed, apart from a reconnect. */
export interface DrainConfig {
  /** How long it keeps serving, unready, before moving its clients (ms). */
  delayMs: number;
  /** Over how long it closes its clients' connections, spread so as not to storm the others (ms). */
  spreadMs: number;
  /** The hard deadline of the whole shutdown (ms): past it the node exits 1. */
  timeoutMs: number;
}

/** Each room's history, kept for clients to recover what they missed. */
export interface HistoryConfig {
  /** Messages kept per room (0: no history; offsets and order still hold). */
  size: number;
  /** Seconds a room's history lives after its last message. */
  ttlSeconds: number;
  /**
   * Seconds a room's epoch and last offset live after its last message (at least `ttlSeconds`):
   * a client away longer than the history but while nothing was published still recovers.
   */
  metaTtlSeconds: number;
}

/** The validated configuration of one node. */
export interface Config {
  /** TCP port the node listens on (HTTP, Socket.IO and the publish API share it). */
  port: number;
  /**
   * A Unix domain socket path the node also listens on, for a load balancer on the same host;
   * `undefined` for TCP only.
   */
  listenSocket: string | undefined;
  /** This node's id: in logs, `welcome`, envelopes, `X-Node-Id` and its session ids. */
  nodeId: string;
  /** Redis URL of the cluster bus; `undefined` runs a single node with the in-memory adapter. */
  redisUrl: string | undefined;
  /** A Redis Cluster's seed nodes (instead of `redisUrl`). */
  redisClusterNodes: readonly string[] | undefined;
  /** Bearer keys accepted by `POST /api/publish` (several, to rotate without downtime). */
  publishApiKeys: readonly string[];
  /** True when the one key was generated because `PUBLISH_API_KEYS` was unset. */
  publishApiKeyGenerated: boolean;
  /** Bearer key of the admin endpoints (`/metrics`) on the public port; unset: off there. */
  adminApiKey: string | undefined;
  /** A second port serving only the admin endpoints, without a key (never proxied by nginx). */
  adminPort: number | undefined;
  /** Origins allowed cross-origin access; empty = same-origin only; `'*'` = any origin. */
  corsOrigins: readonly string[] | '*';
  /** Largest accepted publish request (JSON-encoded), in bytes. */
  maxPayloadBytes: number;
  /** pino log level. */
  logLevel: LogLevel;
  auth: AuthConfig;
  limits: LimitsConfig;
  history: HistoryConfig;
  /** Rooms whose members are tracked, cluster-wide (`PRESENCE_ROOMS` patterns; none by default). */
  presenceRooms: readonly string[];
  drain: DrainConfig;
}

/** Log levels accepted by `LOG_LEVEL`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The outcome of {@link loadConfig}: a config, or one readable line per problem. */
export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

/** Node ids are used in session ids and nginx routing: keep them to a safe alphabet. */
const NODE_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const MIN_API_KEY_LENGTH = 16;
const MAX_PAYLOAD_LIMIT = 16 * 1024 * 1024;
/** Linux keeps a socket path in 108 bytes, the terminating NUL included. */
const MAX_SOCKET_PATH_BYTES = 107;
/** How long a room's epoch and last offset outlive its last message by default (s). */
const DEFAULT_HISTORY_META_TTL = 24 * 3600;
/** What guests may publish to when nothing about auth is configured (the demo's rooms). */
const DEVELOPMENT_GUEST_PUBLISH = ['lobby', 'demo:*'];
/** Variables whose values are secrets: never echoed in a problem. */
const SECRET_VARIABLES = new Set([
  'PUBLISH_API_KEY',
  'PUBLISH_API_KEYS',
  'AUTH_JWT_SECRET',
  'ADMIN_API_KEY',
]);

const roomPatterns = optionalString.pipe(
  z
    .string()
    .transform((value, ctx) => {
      const patterns = splitList(value);
      for (const pattern of patterns) {
        if (!ROOM_PATTERN_SYNTAX.test(pattern)) {
          ctx.addIssue({
            code: 'custom',
            message: `"${pattern}" is not a room pattern (a room name, "prefix*" or "*")`,
          });
        }
      }
      return patterns;
    })
    .optional(),
);

const envSchema = z.object({
  PORT: integerIn(0, 65535, 3000),
  LISTEN_SOCKET: optionalString.pipe(
    z
      .string()
      .refine((value) => value.startsWith('/'), 'must be an absolute path')
      .refine(
        (value) => Buffer.byteLength(value) <= MAX_SOCKET_PATH_BYTES,
        `must be at most ${MAX_SOCKET_PATH_BYTES} bytes long (a Unix socket path limit)`,
      )
      .optional(),
  ),
  NODE_ID: optionalString.pipe(
    z
      .string()
      .regex(NODE_ID_PATTERN, 'must be 1-64 characters of letters, digits, "_", "." or "-"')
      .optional(),
  ),
  REDIS_URL: optionalString.pipe(
    z
      .string()
      .refine(isRedisUrl, 'must be a redis:// or rediss:// URL, e.g. redis://redis:6379')
      .optional(),
  ),
  REDIS_CLUSTER_NODES: optionalString.pipe(
    z
      .string()
      .transform(splitList)
      .pipe(
        z
          .array(
            z
              .string()
              .refine(
                isRedisSeed,
                'must be host:port or redis:// URLs, comma-separated, e.g. redis-1:6379,redis-2:6379',
              ),
          )
          .min(1, 'must name at least one node'),
      )
      .optional(),
  ),
  PUBLISH_API_KEY: optionalString.pipe(
    z
      .undefined({ error: 'renamed to PUBLISH_API_KEYS (comma-separated, to rotate keys)' })
      .optional(),
  ),
  PUBLISH_API_KEYS: optionalString.pipe(
    z
      .string()
      .transform(splitList)
      .refine(
        (keys) => keys.length > 0 && keys.every((key) => key.length >= MIN_API_KEY_LENGTH),
        `every key must be at least ${MIN_API_KEY_LENGTH} characters`,
      )
      .optional(),
  ),
  ADMIN_API_KEY: optionalString.pipe(
    z
      .string()
      .min(MIN_API_KEY_LENGTH, `must be at least ${MIN_API_KEY_LENGTH} characters`)
      .optional(),
  ),
  ADMIN_PORT: optionalIntegerIn(1, 65535),
  CORS_ORIGINS: optionalString.pipe(
    z
      .string()
      .transform((value, ctx) => {
        if (value === '*') return '*' as const;
        const origins = splitList(value);
        for (const origin of origins) {
          if (!isOrigin(origin)) {
            ctx.addIssue({
              code: 'custom',
              message: `"${origin}" is not an origin like https://app.example.com (use "*" for any)`,
            });
          }
        }
        return origins;
      })
      .optional(),
  ),
  MAX_PAYLOAD_BYTES: integerIn(1024, MAX_PAYLOAD_LIMIT, 64 * 1024),
  LOG_LEVEL: optionalString.pipe(z.enum(LOG_LEVELS).optional().default('info')),
  AUTH_JWT_SECRET: optionalString.pipe(
    z
      .string()
      .refine(
        (value) => Buffer.byteLength(value) >= MIN_JWT_SECRET_BYTES,
        `must be at least ${MIN_JWT_SECRET_BYTES} bytes (HS256 needs a 256-bit key)`,
      )
      .optional(),
  ),
  AUTH_JWT_PUBLIC_KEY: optionalString.pipe(
    z
      .string()
      .refine((value) => value.startsWith('/'), 'must be the absolute path of a PEM file')
      .optional(),
  ),
  AUTH_JWKS_URL: optionalString.pipe(
    z.string().refine(isHttpUrl, 'must be an http:// or https:// URL').optional(),
  ),
  AUTH_JWT_ISSUER: optionalString,
  AUTH_JWT_AUDIENCE: optionalString,
  ALLOW_GUESTS: booleanFlag,
  GUEST_ROOMS: roomPatterns,
  GUEST_PUBLISH: roomPatterns,
  MAX_CONNECTIONS: integerIn(0, 10_000_000, 10_000),
  MAX_CONNECTIONS_PER_USER: integerIn(0, 1_000_000, 100),
  CLIENT_EVENT_RATE: integerIn(1, 100_000, 20),
  CLIENT_EVENT_BURST: integerIn(1, 100_000, 50),
  PUBLISH_API_RATE: integerIn(0, 10_000_000, 1000),
  MAX_CLIENT_BUFFER_BYTES: integerIn(64 * 1024, 1024 * 1024 * 1024, 1024 * 1024),
  HISTORY_SIZE: integerIn(0, 100_000, 1000),
  HISTORY_TTL: integerIn(1, 30 * 24 * 3600, 600),
  HISTORY_META_TTL: optionalIntegerIn(1, 365 * 24 * 3600),
  PRESENCE_ROOMS: roomPatterns,
  DRAIN_DELAY_MS: integerIn(0, 600_000, 2000),
  DRAIN_SPREAD_MS: integerIn(0, 600_000, 3000),
  SHUTDOWN_TIMEOUT_MS: integerIn(1000, 3_600_000, 20_000),
});

type Env = z.infer<typeof envSchema>;

/**
 * Reads and validates the node's configuration from environment variables.
 *
 * Never throws: problems come back as one line each, naming the variable, e.g.
 * `PORT: must be a whole number between 0 and 65535 (got "abc")`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ConfigResult {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      const raw = env[name];
      const shown =
        raw === undefined || SECRET_VARIABLES.has(name) ? '' : ` (got ${JSON.stringify(raw)})`;
      return `${name}: ${issue.message}${shown}`;
    });
    return { ok: false, problems };
  }
  const values = parsed.data;
  const problems: string[] = [];
  const nodeId = values.NODE_ID ?? hostname();
  if (!NODE_ID_PATTERN.test(nodeId)) {
    problems.push(
      `NODE_ID: unset, and the hostname ${JSON.stringify(nodeId)} is not a valid node id; set NODE_ID`,
    );
  }
  if (values.SHUTDOWN_TIMEOUT_MS <= values.DRAIN_DELAY_MS + values.DRAIN_SPREAD_MS) {
    problems.push(
      `SHUTDOWN_TIMEOUT_MS: must exceed DRAIN_DELAY_MS + DRAIN_SPREAD_MS (${values.DRAIN_DELAY_MS + values.DRAIN_SPREAD_MS})`,
    );
  }
  const metaTtlSeconds =
    values.HISTORY_META_TTL ?? Math.max(DEFAULT_HISTORY_META_TTL, values.HISTORY_TTL);
  if (metaTtlSeconds < values.HISTORY_TTL) {
    problems.push(`HISTORY_META_TTL: must be at least HISTORY_TTL (${values.HISTORY_TTL})`);
  }
  if (values.REDIS_URL !== undefined && values.REDIS_CLUSTER_NODES !== undefined) {
    problems.push(
      'REDIS_CLUSTER_NODES: set either REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both',
    );
  }
  if (values.ADMIN_PORT !== undefined && values.ADMIN_PORT === values.PORT) {
    problems.push(`ADMIN_PORT: must differ from PORT (${values.PORT})`);
  }
  // `{nodeId}` in LISTEN_SOCKET: one setting for every replica (compose's --scale, a StatefulSet).
  const listenSocket = values.LISTEN_SOCKET?.replaceAll('{nodeId}', nodeId);
  if (listenSocket !== undefined && Buffer.byteLength(listenSocket) > MAX_SOCKET_PATH_BYTES) {
    problems.push(
      `LISTEN_SOCKET: ${JSON.stringify(listenSocket)} is longer than ${MAX_SOCKET_PATH_BYTES} bytes (a Unix socket path limit)`,
    );
  }
  const auth = authConfig(values, problems);
  if (problems.length > 0 || auth === undefined) return { ok: false, problems };
  const publishApiKeys = values.PUBLISH_API_KEYS ?? [randomBytes(24).toString('base64url')];
  return {
    ok: true,
    config: {
      port: values.PORT,
      listenSocket,
      nodeId,
      redisUrl: values.REDIS_URL,
      redisClusterNodes: values.REDIS_CLUSTER_NODES,
      publishApiKeys,
      publishApiKeyGenerated: values.PUBLISH_API_KEYS === undefined,
      adminApiKey: values.ADMIN_API_KEY,
      adminPort: values.ADMIN_PORT,
      corsOrigins: values.CORS_ORIGINS ?? [],
      maxPayloadBytes: values.MAX_PAYLOAD_BYTES,
      logLevel: values.LOG_LEVEL,
      auth,
      limits: {
        maxConnections: values.MAX_CONNECTIONS,
        maxConnectionsPerUser: values.MAX_CONNECTIONS_PER_USER,
        clientEventRate: values.CLIENT_EVENT_RATE,
        clientEventBurst: values.CLIENT_EVENT_BURST,
        publishApiRate: values.PUBLISH_API_RATE,
        maxClientBufferBytes: values.MAX_CLIENT_BUFFER_BYTES,
      },
      history: { size: values.HISTORY_SIZE, ttlSeconds: values.HISTORY_TTL, metaTtlSeconds },
      presenceRooms: values.PRESENCE_ROOMS ?? [],
      drain: {
        delayMs: values.DRAIN_DELAY_MS,
        spreadMs: values.DRAIN_SPREAD_MS,
        timeoutMs: values.SHUTDOWN_TIMEOUT_MS,
      },
    },
  };
}

/**
 * At most one way of verifying tokens; guests allowed by default only when there is none (the
 * development defaults), and then allowed to publish to the demo's rooms.
 */
function authConfig(values: Env, problems: string[]): AuthConfig | undefined {
  const keyVariables = (
    ['AUTH_JWT_SECRET', 'AUTH_JWT_PUBLIC_KEY', 'AUTH_JWKS_URL'] as const
  ).filter((name) => values[name] !== undefined);
  if (keyVariables.length > 1) {
    problems.push(`${keyVariables.join(', ')}: set only one way of verifying tokens`);
    return undefined;
  }
  let key: JwtKey = { kind: 'none' };
  if (values.AUTH_JWT_SECRET !== undefined) {
    key = { kind: 'secret', secret: values.AUTH_JWT_SECRET };
  } else if (values.AUTH_JWT_PUBLIC_KEY !== undefined) {
    try {
      key = {
        kind: 'public-key',
        path: values.AUTH_JWT_PUBLIC_KEY,
        ...readPublicKey(values.AUTH_JWT_PUBLIC_KEY),
      };
    } catch (error) {
      problems.push(
        `AUTH_JWT_PUBLIC_KEY: ${error instanceof Error ? error.message : String(error)}`,
      );
      return undefined;
    }
  } else if (values.AUTH_JWKS_URL !== undefined) {
    key = { kind: 'jwks', url: values.AUTH_JWKS_URL };
  }
  const development = key.kind === 'none';
  const allowGuests = values.ALLOW_GUESTS ?? development;
  if (development && !allowGuests) {
    problems.push(
      'ALLOW_GUESTS: false, but no token key is set (AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY or AUTH_JWKS_URL): nobody could connect',
    );
    return undefined;
  }
  return {
    key,
    issuer: values.AUTH_JWT_ISSUER,
    audience: values.AUTH_JWT_AUDIENCE,
    allowGuests,
    // With a token key (production), guests read nothing unless GUEST_ROOMS says what.
    guestRooms: values.GUEST_ROOMS ?? (development ? ['*'] : []),
    guestPublish: values.GUEST_PUBLISH ?? (development ? DEVELOPMENT_GUEST_PUBLISH : []),
    development,
  };
}
