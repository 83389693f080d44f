import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSessionIdGenerator, nodeIdOfSession } from '../../src/cluster/session-id.js';
import { REPO_ROOT } from '../support/repo.js';

const nginxConf = readFileSync(join(REPO_ROOT, 'nginx', 'push-cluster.conf'), 'utf8');
const compose = readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');

/** The `~^<node>\.  <upstream>;` lines of nginx's sid map. */
const routes = [...nginxConf.matchAll(/^\s*~\^([A-Za-z0-9_-]+)\\\.\s+(\S+);/gm)].map(
  ([, node, upstream]) => ({ node: node as string, upstream: upstream as string }),
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
  it("routes each compose node id to its own upstream, at that node's LISTEN_SOCKET", () => {
    const composeNodes = [...compose.matchAll(/NODE_ID:\s*(\S+)\s+LISTEN_SOCKET:\s*(\S+)/g)].map(
      ([, id, socket]) => ({ id, socket }),
    );
    expect(composeNodes).toEqual(
      ['node1', 'node2', 'node3'].map((id) => ({ id, socket: `/run/push/${id}.sock` })),
    );
    expect(routes.map((r) => r.node)).toEqual(composeNodes.map(({ id }) => id));
    for (const { node, upstream } of routes) {
      const socket = `unix:/run/push/${node}\\.sock`;
      expect(nginxConf).toMatch(new RegExp(`upstream ${upstream} \\{ server ${socket};`));
      expect(nginxConf).toMatch(new RegExp(`server ${socket} max_fails`));
    }
  });

  it('matches only the session ids of its own node', () => {
    const id = createSessionIdGenerator('node1')();
    const matching = routes.filter(({ node }) => new RegExp(`^${node}\\.`).test(id));
    expect(matching.map((r) => r.node)).toEqual(['node1']);
    const node10 = createSessionIdGenerator('node10')();
    expect(routes.filter(({ node }) => new RegExp(`^${node}\\.`).test(node10))).toEqual([]);
  });
});
