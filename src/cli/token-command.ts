/**
 * The `token` command: a token signed with the configured `AUTH_JWT_SECRET` (and
 * `AUTH_JWT_ISSUER` / `AUTH_JWT_AUDIENCE` when set), for development, tests and trying the
 * cluster out. In production the application's backend signs its users' tokens.
 */
import { parseArgs } from 'node:util';
import { isRoomPattern } from '../auth/room-pattern.js';
import { signToken } from '../auth/token-signer.js';
import { loadConfig } from '../config/config.js';
import { USER_ID_PATTERN } from '../protocol/index.js';

/** The `token` command's help. */
export const TOKEN_USAGE = `token --sub <user> [--rooms <patterns>] [--publish <patterns>] [--admin] [--ttl <time>]
  --sub <user>          the user id (1-123 of letters, digits, ":", "_", ".", "-")
  --rooms <patterns>    private rooms it may subscribe to, comma-separated: "private:team-1,private:ops-*"
  --publish <patterns>  rooms it may publish to, comma-separated; "*" is anywhere, everyone included
  --admin               may read the admin endpoints (/admin, /api/cluster, /metrics)
  --ttl <time>          lifetime: 90s, 30m, 12h, 7d, or seconds (default 1h)
Signs with AUTH_JWT_SECRET from the environment (or a node's, with docker compose exec).`;

const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** A usage error: the message and the usage go to stderr, and the command exits 2. */
class UsageError extends Error {}

function fail(message: string): never {
  throw new UsageError(message);
}

function patterns(name: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const list = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  const bad = list.find((item) => !isRoomPattern(item));
  if (bad !== undefined)
    fail(`--${name}: "${bad}" is not a room pattern (a room, "prefix*" or "*")`);
  return list;
}

function seconds(value: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(value.trim());
  if (match === null) fail(`--ttl: "${value}" is not a time like 90s, 30m, 12h or 7d`);
  const total = Number(match[1]) * (TTL_UNITS[match[2] || 's'] ?? 1);
  if (total < 1) fail('--ttl: must be at least 1 second');
  return total;
}

/**
 * `token --sub <user> [--rooms …] [--publish …] [--admin] [--ttl …]`: prints a token signed with
 * `AUTH_JWT_SECRET` from `env`. Resolves to the exit code: 0, 1 (configuration), 2 (usage).
 */
export async function tokenCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  try {
    return await signFromArgs(args, env, out, err);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    err(`${error.message}\n\n${TOKEN_USAGE}\n`);
    return 2;
  }
}

async function signFromArgs(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        sub: { type: 'string' },
        rooms: { type: 'string' },
        publish: { type: 'string' },
        ttl: { type: 'string' },
        admin: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) {
    out(`${TOKEN_USAGE}\n`);
    return 0;
  }
  const sub = values.sub;
  if (typeof sub !== 'string' || !USER_ID_PATTERN.test(sub)) fail('--sub: a user id is required');

  const result = loadConfig(env);
  if (!result.ok) {
    for (const problem of result.problems) err(`config error: ${problem}\n`);
    return 1;
  }
  const { auth } = result.config;
  if (auth.key.kind !== 'secret') {
    err(
      'AUTH_JWT_SECRET is not set: this tool signs HS256 tokens with it. (With AUTH_JWT_PUBLIC_KEY or AUTH_JWKS_URL, sign where the private key lives.)\n',
    );
    return 1;
  }
  const token = await signToken(auth.key.secret, {
    sub,
    rooms: patterns('rooms', typeof values.rooms === 'string' ? values.rooms : undefined),
    publish: patterns('publish', typeof values.publish === 'string' ? values.publish : undefined),
    admin: values.admin === true,
    ttlSeconds: seconds(typeof values.ttl === 'string' ? values.ttl : '1h'),
    issuer: auth.issuer,
    audience: auth.audience,
  });
  out(`${token}\n`);
  return 0;
}
