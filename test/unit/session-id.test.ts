import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';
import { createSessionIdGenerator, nodeIdOfSession } from '../../src/cluster/session-id.js';

const nginxConf = readFileSync(join(REPO_ROOT, 'nginx', 'push-cluster.conf'), 'utf8');
const compose = readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');

/**
 * nginx's `map $arg_sid $push_upstream { … }` as nginx reads it: each line a source and a value;
 * a source starting with `~` is a regular expression, tried in order; `default` when none
 * matches. The patterns are taken from the file as written, whatever they look like.
 */
function readSidMap(conf: string): (sid: string) => string {
  const block = /map \$arg_sid \$push_upstream \{([^}]*)\}/.exec(conf)?.[1];
  if (block === undefined) throw new Error('no "map $arg_sid $push_upstream" block');
  const entries = block
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [source, value] = line.replace(/;$/, '').split(/\s+/);
      if (source === undefined || value === undefined) throw new Error(`bad map line: ${line}`);
      return { source, value };
    });
  const fallback = entries.find((entry) => entry.source === 'default')?.value;
  const regexes = entries
    .filter((entry) => entry.source.startsWith('~'))
    .map((entry) => ({ pattern: new RegExp(entry.source.slice(1)), value: entry.value }));
  return (sid) => regexes.find(({ pattern }) => pattern.test(sid))?.value ?? fallback ?? '';
}

/** The servers of `upstream name { … }`. */
function serversOf(conf: string, name: string): string[] {
  const block = new RegExp(`upstream ${name} \\{([^}]*)\\}`).exec(conf)?.[1] ?? '';
  return [...block.matchAll(/server\s+(\S+?)[;\s]/g)].map(([, address]) => address as string);
}

/** The nodes of docker-compose.yml with their NODE_ID and LISTEN_SOCKET. */
const composeNodes = [...compose.matchAll(/NODE_ID:\s*(\S+)\s+LISTEN_SOCKET:\s*(\S+)/g)].map(
  ([, id, socket]) => ({ id: id as string, socket: socket as string }),
);

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

describe('nginx routing map', () => {
  const route = readSidMap(nginxConf);

  it('sends the sessions of each compose node to an upstream holding only that node', () => {
    expect(composeNodes.map(({ id }) => id)).toEqual(['node1', 'node2', 'node3']);
    for (const { id, socket } of composeNodes) {
      const upstream = route(createSessionIdGenerator(id)());
      expect(serversOf(nginxConf, upstream), `${id} → ${upstream}`).toEqual([`unix:${socket}`]);
    }
  });

  it('balances everything else over every node', () => {
    const balanced = route('');
    expect(serversOf(nginxConf, balanced).sort()).toEqual(
      composeNodes.map(({ socket }) => `unix:${socket}`).sort(),
    );
    for (const sid of ['plainBase64Id', createSessionIdGenerator('node10')(), 'xnode1.abc']) {
      expect(route(sid), sid).toBe(balanced);
    }
  });
});
