import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';

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
  /** Bearer token required by `POST /api/publish`. */
  publishApiKey: string;
  /** True when `publishApiKey` was generated because `PUBLISH_API_KEY` was unset. */
  publishApiKeyGenerated: boolean;
  /** Origins allowed cross-origin access; empty = same-origin only; `'*'` = any origin. */
  corsOrigins: readonly string[] | '*';
  /** Largest accepted publish request (JSON-encoded), in bytes. */
  maxPayloadBytes: number;
  /** pino log level. */
  logLevel: LogLevel;
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

/** Treats empty and whitespace-only variables as unset, as shells and compose files produce them. */
const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const integerIn = (min: number, max: number, fallback: number) => {
  const message = `must be a whole number between ${min} and ${max}`;
  return optionalString.pipe(
    z
      .string()
      .regex(/^\d+$/, message)
      .transform(Number)
      .pipe(z.number().int().min(min, message).max(max, message))
      .optional()
      .default(fallback),
  );
};

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
  PUBLISH_API_KEY: optionalString.pipe(
    z
      .string()
      .min(MIN_API_KEY_LENGTH, `must be at least ${MIN_API_KEY_LENGTH} characters`)
      .optional(),
  ),
  CORS_ORIGINS: optionalString.pipe(
    z
      .string()
      .transform((value, ctx) => parseCorsOrigins(value, ctx))
      .optional(),
  ),
  MAX_PAYLOAD_BYTES: integerIn(1024, MAX_PAYLOAD_LIMIT, 64 * 1024),
  LOG_LEVEL: optionalString.pipe(z.enum(LOG_LEVELS).optional().default('info')),
});

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
        raw === undefined || name === 'PUBLISH_API_KEY' ? '' : ` (got ${JSON.stringify(raw)})`;
      return `${name}: ${issue.message}${shown}`;
    });
    return { ok: false, problems };
  }
  const values = parsed.data;
  const nodeId = values.NODE_ID ?? hostname();
  if (!NODE_ID_PATTERN.test(nodeId)) {
    return {
      ok: false,
      problems: [
        `NODE_ID: unset, and the hostname ${JSON.stringify(nodeId)} is not a valid node id; set NODE_ID`,
      ],
    };
  }
  return {
    ok: true,
    config: {
      port: values.PORT,
      listenSocket: values.LISTEN_SOCKET,
      nodeId,
      redisUrl: values.REDIS_URL,
      publishApiKey: values.PUBLISH_API_KEY ?? randomBytes(24).toString('base64url'),
      publishApiKeyGenerated: values.PUBLISH_API_KEY === undefined,
      corsOrigins: values.CORS_ORIGINS ?? [],
      maxPayloadBytes: values.MAX_PAYLOAD_BYTES,
      logLevel: values.LOG_LEVEL,
    },
  };
}

function isRedisUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
  } catch {
    return false;
  }
}

function parseCorsOrigins(value: string, ctx: z.RefinementCtx): readonly string[] | '*' {
  if (value === '*') return '*';
  const origins = value
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '');
  for (const origin of origins) {
    if (!isOrigin(origin)) {
      ctx.addIssue({
        code: 'custom',
        message: `"${origin}" is not an origin like https://app.example.com (use "*" for any)`,
      });
    }
  }
  return origins;
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}
