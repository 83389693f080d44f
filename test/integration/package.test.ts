import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';

/**
 * The installable package: `npm pack` (which builds it) yields a tarball; installed into an empty
 * project, its `./client` and `./publisher` exports load in Node.js and a typed use of both
 * compiles, and a wrong use does not. The tarball is unpacked into the project's `node_modules`
 * as npm would, and its dependencies are linked from this repository's (no registry here).
 */
const run = promisify(execFile);
let project: string;
let packed: { filename: string; files: { path: string }[] };

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'push-cluster-package-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', project], {
    cwd: REPO_ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  const [first] = JSON.parse(stdout.slice(stdout.indexOf('['))) as (typeof packed)[];
  packed = first as typeof packed;
  const installed = join(project, 'node_modules', 'push-cluster');
  await mkdir(installed, { recursive: true });
  await run('tar', [
    '-xzf',
    join(project, packed.filename),
    '-C',
    installed,
    '--strip-components=1',
  ]);
  const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  for (const name of [...Object.keys(manifest.dependencies), '@types/node']) {
    const target = join(project, 'node_modules', name);
    await mkdir(join(target, '..'), { recursive: true });
    await symlink(join(REPO_ROOT, 'node_modules', name), target);
  }
  await writeFile(join(project, 'package.json'), '{ "type": "module", "private": true }\n');
  await writeFile(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2023',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        types: ['node'],
        skipLibCheck: false,
      },
      include: ['use.ts'],
    }),
  );
}, 300_000);

afterAll(async () => {
  if (project !== undefined) await rm(project, { recursive: true, force: true });
});

const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

async function compile(source: string): Promise<string> {
  await writeFile(join(project, 'use.ts'), source);
  return run(process.execPath, [tsc, '-p', project], { cwd: project }).then(
    () => '',
    (error: { stdout?: string }) => error.stdout ?? String(error),
  );
}

const TYPED_USE = `import { PushClient, PushError, type Envelope } from 'push-cluster/client';
import { PushPublisher, PublisherError, type PublishOutcome } from 'push-cluster/publisher';

type Events = { 'order.updated': { status: string } };
const client = new PushClient<Events>('http://localhost:8080', { token: 'a-token' });
client.on('order.updated', (message: Envelope<{ status: string }>) => message.data.status.toUpperCase());
export const failed = (error: unknown) => error instanceof PushError && error.code === 'forbidden';

const publisher = new PushPublisher('http://localhost:8080', { apiKey: () => 'key', retryForMs: 5000 });
export async function send(): Promise<number | undefined> {
  const outcome: PublishOutcome = await publisher.publish({ room: 'orders:42', event: 'order.updated', data: { status: 'shipped' } });
  if (outcome.status === 'published') return outcome.receipt.offset;
  if (outcome.status === 'refused') console.log(outcome.httpStatus, outcome.error.code);
  const page = await publisher.history('orders:42', { since: 1 });
  return page.messages.length + (failed(new PublisherError('unauthorized', 'no', 401)) ? 1 : 0);
}
client.close();
`;

describe('the npm package', () => {
  it('packs the built client, publisher and CLI, and nothing of the tests', () => {
    const paths = packed.files.map((file) => file.path);
    for (const path of [
      'dist/client/index.js',
      'dist/client/index.d.ts',
      'dist/publisher/index.js',
      'dist/publisher/index.d.ts',
      'dist/public/push-client.js',
      'dist/cli/push-cluster.js',
      'package.json',
      'README.md',
    ]) {
      expect(paths, path).toContain(path);
    }
    expect(paths.filter((path) => path.startsWith('test/') || path.startsWith('src/'))).toEqual([]);
  });

  it('compiles a typed use of the client and the publisher, and refuses a wrong one', async () => {
    expect(await compile(TYPED_USE)).toBe('');
    const wrong = await compile(
      `${TYPED_USE}\nclient.on('order.updatd', () => {});\nvoid publisher.publish({ room: 'r' });\n`,
    );
    expect(wrong).toContain('Argument of type \'"order.updatd"\' is not assignable');
    expect(wrong).toContain("Argument of type '{ room: string; }' is not assignable");
  });

  it('loads both exports in Node.js from the installed package', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const client = await import('push-cluster/client');
         const publisher = await import('push-cluster/publisher');
         console.log(typeof client.PushClient, typeof publisher.PushPublisher);`,
      ],
      { cwd: project },
    );
    expect(stdout.trim()).toBe('function function');
  });
});
