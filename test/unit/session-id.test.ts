import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';
import { createSessionIdGenerator, nodeIdOfSession } from '../../src/cluster/session-id.js';

const run = promisify(execFile);
const nginxConf = readFileSync(join(REPO_ROOT, 'nginx', 'push-cluster.conf'), 'utf8');
const compose = readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');

/**
 * nginx's `map $arg_sid $push_upstream { … }` as nginx reads it: each line a source and a value
 * (either quoted or not); a source starting with `~` is a regular expression, tried in order, its
 * named captures substituted into the value; `default` when none matches. The patterns are taken
 * from the file as rendered, whatever they look like.
 */
function readSidMap(conf: string): (sid: string) => string {
  const block = /map \$arg_sid \$push_upstream \{\n([\s\S]*?)\n\}/.exec(conf)?.[1];
  if (block === undefined) throw new Error('no "map $arg_sid $push_upstream" block');
  const entries = block
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [source, value] = line
        .replace(/;$/, '')
        .split(/\s+/)
        .map((part) => part.replace(/^"(.*)"$/, '$1'));
      if (source === undefined || value === undefined) throw new Error(`bad map line: ${line}`);
      return { source, value };
    });
  const fallback = entries.find((entry) => entry.source === 'default')?.value;
  const regexes = entries
    .filter((entry) => entry.source.startsWith('~'))
    .map((entry) => ({ pattern: new RegExp(entry.source.slice(1)), value: entry.value }));
  return (sid) => {
    for (const { pattern, value } of regexes) {
      const match = pattern.exec(sid);
      // nginx substitutes the regex's named captures ($name) into the value.
      if (match !== null) {
        return value.replace(/\$(\w+)/g, (_, name: string) => match.groups?.[name] ?? '');
      }
    }
    return fallback ?? '';
  };
}

/** What `upstream name { … }` holds. */
function blockOf(conf: string, name: string): string {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`upstream ${escaped} \\{([^}]*)\\}`).exec(conf)?.[1] ?? '';
}

/** The servers of `upstream name { … }`. */
function serversOf(conf: string, name: string): string[] {
  const block = blockOf(conf, name);
  return [...block.matchAll(/server\s+(\S+?)[;\s]/g)].map(([, address]) => address as string);
}

/** A value of docker-compose.yml (`KEY: value`, the first one). */
function composeValue(key: string): string {
  const value = new RegExp(`^\\s*${key}:\\s*(\\S+)`, 'm').exec(compose)?.[1];
  if (value === undefined) throw new Error(`docker-compose.yml sets no ${key}`);
  return value;
}

describe('session ids', () => {
  it('start with the node id and a dot, followed by 20 URL-safe random characters', () => {
    const next = createSessionIdGenerator('node2');
    const id = next();
    expect(id).toMatch(/^node2\.[A-Za-z0-9_-]{20}$/);
    expect(nodeIdOfSession(id)).toBe('node2');
    expect(next()).not.toBe(id);
  });

  it('keep dotted node ids whole', () => {
    expect(nodeIdOfSession(createSessionIdGenerator('eu.node-1')())).toBe('eu.node-1');
  });

  it('reject ids without a node prefix', () => {
    expect(nodeIdOfSession('plainBase64Id')).toBeUndefined();
  });
});

describe('nginx routing map, as rendered for the compose file', () => {
  // Node ids as compose gives them (a container's short id) and as a user may set them.
  const ids = ['5dedc04a874a', 'node2', 'eu.node-1'];
  let dir: string;
  let nodesConf: string;
  let route: (sid: string) => string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'push-routing-'));
    const sockets = join(dir, 'sockets');
    await mkdir(sockets);
    // Each node listens where the compose file tells it to, with the socket directory moved.
    const template = composeValue('LISTEN_SOCKET');
    const socketDir = composeValue('PUSH_NODE_SOCKETS');
    expect(template).toBe(`${socketDir}/{nodeId}.sock`);
    const servers = ids.map((id) =>
      createServer().listen(template.replace(socketDir, sockets).replace('{nodeId}', id)),
    );
    await Promise.all(servers.map((server) => once(server, 'listening')));
    await run('sh', [join(REPO_ROOT, 'nginx', 'push-nginx.sh'), 'render'], {
      env: {
        ...process.env,
        PUSH_NGINX_GENERATED: dir,
        PUSH_NODE_SOCKETS: sockets,
        // Limits any machine holds: the routing map is under test here.
        PUSH_MAX_CLIENTS: '100',
        PUSH_NGINX_WORKERS: '1',
      },
    });
    for (const server of servers) server.close();
    nodesConf = (await readFile(join(dir, 'nodes.conf'), 'utf8')).replaceAll(sockets, socketDir);
    route = readSidMap(nodesConf);
    expect(nginxConf).toContain('include /etc/nginx/push/nodes.conf;');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("sends each node's sessions to that node's socket, over connections nginx keeps open", () => {
    for (const id of ids) {
      const upstream = route(createSessionIdGenerator(id)());
      expect(serversOf(nodesConf, upstream), id).toEqual([`unix:/run/push/${id}.sock`]);
      expect(blockOf(nodesConf, upstream), id).toMatch(/^\s*keepalive \d+;$/m);
    }
  });

  it('sends the sessions of a node not listed (starting, draining) to its socket by name', () => {
    expect(route(createSessionIdGenerator('node9')())).toBe('unix:/run/push/node9.sock:');
  });

  it('balances everything else over every node, and never lets a session id name a path', () => {
    const balanced = route('');
    expect(balanced).toBe('push_nodes');
    expect(serversOf(nodesConf, balanced).sort()).toEqual(
      ids.map((id) => `unix:/run/push/${id}.sock`).sort(),
    );
    for (const sid of ['plainBase64Id', '../etc/x.abc', 'a/b.abc', 'node1.abc/def', '.abc']) {
      expect(route(sid), sid).toBe(balanced);
    }
  });
});
