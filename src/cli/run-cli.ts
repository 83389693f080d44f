import { parseArgs } from 'node:util';
import { PublisherError, type PublishOutcome, PushPublisher } from '../publisher/index.js';
import { clusterTable } from './cluster-table.js';
import { tokenCommand } from './token-command.js';

/** Exit codes, by what happened. */
export const ExitCode = {
  ok: 0,
  /** Configuration missing (no key) or broken. */
  config: 1,
  /** Wrong command line. */
  usage: 2,
  /** The cluster refused (bad input, wrong key, forbidden): sending it again will not help. */
  refused: 3,
  /** The cluster could not take it (busy, unreachable) for as long as the command tried. */
  notPublished: 4,
  /** It may or may not have been published: send again with the same `--id`. */
  unknown: 5,
} as const;

/** Where the command writes, and what it reads: the process's own, or a test's. */
export interface CliIo {
  env: NodeJS.ProcessEnv;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Reads standard input to its end (publish data when none is given as an argument). */
  stdin: () => Promise<string>;
}

const COMMON = `  --url <url>        the cluster (default: PUSH_URL, else http://localhost:8080)
  --key <key>        a publish API key (default: PUSH_API_KEY)
  --retry-for <s>    how long to keep trying while the cluster is busy or the outcome unknown (default 30)`;

const USAGE = `push-cluster <command> [options]   (--help after a command for its options)
  publish    publish to a room, a user or everyone; JSON data from an argument or stdin
  history    a room's history
  presence   the users in a presence room
  cluster    the cluster overview, as a table (admin key)
  token      sign a development token (AUTH_JWT_SECRET)
Exit codes: 0 done, 1 configuration, 2 usage, 3 refused, 4 not published (busy or unreachable),
5 outcome unknown (publish again with the same --id).`;

const COMMANDS: Record<string, { usage: string; options: Record<string, 'string' | 'boolean'> }> = {
  publish: {
    usage: `push-cluster publish (--room <room> | --user <user> | --everyone) [--event <name>] [--id <key>] [<json>]
  <json>             the data, as JSON (read from stdin when absent)
  --id <key>         idempotency key (default: a new one, printed); repeat it to publish once
${COMMON}
Prints the receipt as JSON: { id, offset, epoch, duplicate, idempotencyKey }.`,
    options: { room: 'string', user: 'string', everyone: 'boolean', event: 'string', id: 'string' },
  },
  history: {
    usage: `push-cluster history <room> [--since <offset>] [--epoch <epoch>] [--limit <n>]
${COMMON}
Prints the page as JSON: { room, offset, epoch, complete, messages }.`,
    options: { since: 'string', epoch: 'string', limit: 'string' },
  },
  presence: {
    usage: `push-cluster presence <room>
${COMMON}
Prints the users, one per line.`,
    options: {},
  },
  cluster: {
    usage: `push-cluster cluster [--json]
  --admin-key <key>  the cluster's ADMIN_API_KEY (default: PUSH_ADMIN_KEY)
  --json             the overview as JSON instead of a table
${COMMON}`,
    options: { 'admin-key': 'string', json: 'boolean' },
  },
};

/** A usage error: its message, then the command's usage, on stderr; exit 2. */
class UsageError extends Error {}

/**
 * Runs `push-cluster <command> …` and resolves to its exit code ({@link ExitCode}). Never throws
 * for what the user or the cluster did: every failure is a message on stderr and a code.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    (command === undefined ? io.err : io.out)(`${USAGE}\n`);
    return command === undefined ? ExitCode.usage : ExitCode.ok;
  }
  if (command === 'token') return tokenCommand(args, io.env, io.out, io.err);
  const spec = COMMANDS[command];
  if (spec === undefined) {
    io.err(`unknown command "${command}"\n\n${USAGE}\n`);
    return ExitCode.usage;
  }
  try {
    return await run(command, spec, args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n\n${spec.usage}\n`);
      return ExitCode.usage;
    }
    if (error instanceof PublisherError) {
      io.err(`${error.code}: ${error.message}\n`);
      if (error.httpStatus >= 400 && error.httpStatus < 500) return ExitCode.refused;
      return error.code === 'outcome_unknown' ? ExitCode.unknown : ExitCode.notPublished;
    }
    throw error;
  }
}

async function run(
  command: string,
  spec: { usage: string; options: Record<string, 'string' | 'boolean'> },
  args: string[],
  io: CliIo,
): Promise<number> {
  const options = Object.fromEntries(
    Object.entries({
      ...spec.options,
      url: 'string',
      key: 'string',
      'retry-for': 'string',
      help: 'boolean',
    }).map(([name, type]) => [name, { type }]),
  ) as Record<string, { type: 'string' | 'boolean' }>;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const positionals = parsed.positionals;
  if (values.help === true) {
    io.out(`${spec.usage}\n`);
    return ExitCode.ok;
  }
  const text = (name: string) => (typeof values[name] === 'string' ? values[name] : undefined);
  const url = text('url') ?? io.env.PUSH_URL ?? 'http://localhost:8080';
  const retryFor = text('retry-for');
  if (retryFor !== undefined && !/^\d+(\.\d+)?$/.test(retryFor)) {
    throw new UsageError(`--retry-for: "${retryFor}" is not a number of seconds`);
  }
  const adminKey = text('admin-key') ?? io.env.PUSH_ADMIN_KEY;
  const apiKey = text('key') ?? io.env.PUSH_API_KEY;
  const needsApiKey = command !== 'cluster';
  if (needsApiKey && (apiKey === undefined || apiKey === '')) {
    io.err('no API key: pass --key or set PUSH_API_KEY (one of the cluster’s PUBLISH_API_KEYS)\n');
    return ExitCode.config;
  }
  if (!needsApiKey && (adminKey === undefined || adminKey === '')) {
    io.err('no admin key: pass --admin-key or set PUSH_ADMIN_KEY (the cluster’s ADMIN_API_KEY)\n');
    return ExitCode.config;
  }
  const publisher = new PushPublisher(url, {
    apiKey: apiKey ?? '',
    ...(adminKey === undefined ? {} : { adminKey }),
    ...(retryFor === undefined ? {} : { retryForMs: Number(retryFor) * 1000 }),
  });
  const room = () => {
    if (positionals.length !== 1) throw new UsageError(`${command} takes one room`);
    return positionals[0] as string;
  };
  switch (command) {
    case 'publish':
      return publish(publisher, text, values.everyone === true, positionals, io);
    case 'history': {
      const since = wholeNumber('since', text('since'));
      const limit = wholeNumber('limit', text('limit'));
      const epoch = text('epoch');
      const page = await publisher.history(room(), {
        ...(since === undefined ? {} : { since }),
        ...(limit === undefined ? {} : { limit }),
        ...(epoch === undefined ? {} : { epoch }),
      });
      io.out(`${JSON.stringify(page, null, 2)}\n`);
      return ExitCode.ok;
    }
    case 'presence':
      for (const user of await publisher.presence(room())) io.out(`${user}\n`);
      return ExitCode.ok;
    default: {
      if (positionals.length > 0) throw new UsageError('cluster takes no arguments');
      const overview = await publisher.cluster();
      io.out(
        values.json === true ? `${JSON.stringify(overview, null, 2)}\n` : clusterTable(overview),
      );
      return ExitCode.ok;
    }
  }
}

async function publish(
  publisher: PushPublisher,
  text: (name: string) => string | undefined,
  everyone: boolean,
  positionals: string[],
  io: CliIo,
): Promise<number> {
  const room = text('room');
  const user = text('user');
  const targets = [room, user].filter((target) => target !== undefined).length + (everyone ? 1 : 0);
  if (targets !== 1) throw new UsageError('name exactly one of --room, --user or --everyone');
  if (positionals.length > 1) throw new UsageError('publish takes one JSON argument (quote it)');
  const source = positionals[0] ?? (await io.stdin());
  let data: unknown;
  try {
    data = JSON.parse(source);
  } catch {
    throw new UsageError(`the data is not JSON: ${JSON.stringify(source.slice(0, 80))}`);
  }
  const event = text('event');
  const id = text('id');
  const outcome: PublishOutcome = await publisher.publish({
    ...(room === undefined ? {} : { room }),
    ...(user === undefined ? {} : { user }),
    ...(event === undefined ? {} : { event }),
    ...(id === undefined ? {} : { idempotencyKey: id }),
    data,
  });
  switch (outcome.status) {
    case 'published':
      io.out(`${JSON.stringify({ ...outcome.receipt, idempotencyKey: outcome.idempotencyKey })}\n`);
      return ExitCode.ok;
    case 'refused':
      io.err(
        `refused (HTTP ${outcome.httpStatus}) ${outcome.error.code}: ${outcome.error.message}\n`,
      );
      return ExitCode.refused;
    case 'not_published':
      io.err(
        `not published after ${outcome.attempts} attempts: ${outcome.error.code}: ${outcome.error.message}\n`,
      );
      return ExitCode.notPublished;
    default:
      io.err(
        `outcome unknown after ${outcome.attempts} attempts (${outcome.error.message})${outcome.idempotencyKey === undefined ? '' : `: publish again with --id ${outcome.idempotencyKey}`}\n`,
      );
      return ExitCode.unknown;
  }
}

function wholeNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value))
    throw new UsageError(`--${name}: "${value}" is not a whole number`);
  return Number(value);
}
