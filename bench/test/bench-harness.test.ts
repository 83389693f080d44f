import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { round, summarize } from '../load/stats.js';
import { parseOptions } from '../options.js';
import { problems } from '../report/bench-report.js';
import { freePort } from '../shared/free-port.js';
import { LocalProcess, retryOnPortClash } from '../targets/local-process.js';
import { adaptNginxMain, adaptNginxSite, renderNginxGenerated } from '../targets/nginx-config.js';

const run = promisify(execFile);

describe('benchmark harness', () => {
  it('adapts the deployed nginx site to the addresses of the benchmark, nothing else', async () => {
    const site = await adaptNginxSite(8999, '/tmp/bench-nginx/generated');
    expect(site).toContain('listen 127.0.0.1:8999 reuseport backlog=4096;');
    // The node list and routing map are rendered as deployed, into the benchmark's directory.
    expect(site).toContain('include /tmp/bench-nginx/generated/nodes.conf;');
    expect(site).not.toContain('/etc/nginx/push/');
    expect(site).not.toContain('/run/push/');
    // The per-address handshake limit is lifted.
    expect(site).toContain('limit_req_zone');
    expect(site).not.toMatch(/^\s*limit_req\s+zone=/m);
  });

  it('renders the node list and limits with the deployed script: nginx accepts them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-nginx-'));
    try {
      const sockets = join(dir, 'sockets');
      await mkdir(sockets);
      const listening = ['node1', 'node2'].map((id) =>
        createServer().listen(join(sockets, `${id}.sock`)),
      );
      await Promise.all(listening.map((server) => once(server, 'listening')));
      const generated = join(dir, 'generated');
      await renderNginxGenerated(generated, sockets, 10_000);
      for (const server of listening) server.close();
      const nodes = await readFile(join(generated, 'nodes.conf'), 'utf8');
      for (const id of ['node1', 'node2']) {
        expect(nodes).toContain(`server unix:${join(sockets, `${id}.sock`)} `);
      }
      expect(nodes).toContain(`"unix:${sockets}/$push_node.sock:"`);
      const site = join(dir, 'site.conf');
      await writeFile(site, await adaptNginxSite(await freePort(), generated));
      const main = join(dir, 'nginx.conf');
      await writeFile(main, await adaptNginxMain(dir, site, generated));
      // nginx's own check of the whole configuration, as the benchmark will run it.
      await run('nginx', ['-t', '-q', '-p', dir, '-c', main]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('adapts the deployed main nginx config: its limits rendered, every path it writes moved', async () => {
    const main = await adaptNginxMain(
      '/tmp/bench-nginx',
      '/tmp/bench-nginx/site.conf',
      '/tmp/bench-nginx/generated',
    );
    expect(main.startsWith('daemon off;\n')).toBe(true);
    for (const kept of [
      'include /tmp/bench-nginx/generated/main.conf;',
      'include /tmp/bench-nginx/generated/events.conf;',
      'user nobody',
    ]) {
      expect(main).toContain(kept);
    }
    expect(main).toContain('include /tmp/bench-nginx/site.conf;');
    expect(main).toContain('access_log off;');
    const written = [...main.matchAll(/^\s*(pid|error_log|\w+_temp_path)\s+(\S+)/gm)];
    expect(written.map(([, name]) => name).sort()).toEqual(
      ['client_body_temp_path', 'error_log', 'fastcgi_temp_path', 'pid']
        .concat(['proxy_temp_path', 'scgi_temp_path', 'uwsgi_temp_path'])
        .sort(),
    );
    for (const [, name, path] of written) expect(path, name).toMatch(/^\/tmp\/bench-nginx\//);
  });

  it('computes nearest-rank percentiles', () => {
    const samples = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(summarize(samples)).toEqual({ count: 100, p50: 50, p95: 95, p99: 99, max: 100 });
    expect(summarize([])).toEqual({ count: 0, p50: 0, p95: 0, p99: 0, max: 0 });
    expect(String(round(-0.0004, 1))).toBe('0');
    expect(round(-0.26, 1)).toBe(-0.3);
  });

  it('rejects bad flags with the usage text, and sizes --quick small', () => {
    expect(() => parseOptions(['--clients', 'lots'])).toThrow(
      /--clients must be a positive number/,
    );
    expect(() => parseOptions(['--targets', 'cluster,mars'])).toThrow(/unknown "mars"/);
    expect(() => parseOptions(['--url', 'localhost:8080'])).toThrow(/--url must be/);
    expect(() => parseOptions(['--client', 'browser'])).toThrow(/--client: unknown "browser"/);
    expect(() => parseOptions(['--idle-warmup', '1.5'])).toThrow(/--idle-warmup must be a whole/);
    expect(parseOptions(['--idle-warmup', '0'])).toMatchObject({ idleWarmup: 0 });
    const quick = parseOptions(['--quick']);
    expect(quick).toMatchObject({ quick: true, clients: 100, idleWarmup: 20, client: 'raw' });
    expect(parseOptions([])).toMatchObject({ crowd: 10_000 });
    expect(quick).toMatchObject({ crowd: 500 });
    expect(() => parseOptions(['--crowd', '0'])).toThrow(/--crowd must be a positive number/);
    expect(parseOptions(['--client', 'socket.io-client'])).toMatchObject({
      client: 'socket.io-client',
    });
    expect(parseOptions(['--url', 'http://localhost:8080'])).toMatchObject({ targets: ['url'] });
  });

  it('fails a run that lost, duplicated or misdelivered anything outside the saturation ramp', () => {
    const tally = { lost: 0, duplicated: 0, misdelivered: 0, refused: 0, disconnects: 0 };
    const fanout = {
      ...tally,
      lost: 1,
      misdelivered: 2,
      warmup: { ...tally, duplicated: 3 },
    } as unknown as NonNullable<Parameters<typeof problems>[0][number]['fanout']>;
    expect(problems([{ name: 'cluster', description: '', fanout }])).toEqual([
      'cluster fanout warm-up: 3 duplicates',
      'cluster fanout: 1 deliveries lost',
      'cluster fanout: 2 misdelivered',
    ]);
  });

  it('fails a run in which the crowd was refused, saying how far it got', () => {
    const crowd = {
      clients: 10_000,
      connected: 9_977,
      refused: 23,
      firstRefusalAfter: 9_500,
      firstError: 'ECONNRESET',
      fanout: null,
    } as unknown as NonNullable<Parameters<typeof problems>[0][number]['crowd']>;
    expect(problems([{ name: 'cluster', description: '', crowd }])).toEqual([
      'cluster crowd: 23 of 10000 clients refused, the first after 9500 connected (ECONNRESET)',
    ]);
    expect(
      problems([{ name: 'cluster', description: '', crowd: { ...crowd, refused: 0 } }]),
    ).toEqual([]);
  });

  it('starts a server again on a fresh port when its port was taken before it listened', async () => {
    const squatter = createServer().listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    const taken = (squatter.address() as { port: number }).port;
    const ports: number[] = [];
    let server: LocalProcess | undefined;
    try {
      const port = await retryOnPortClash(async () => {
        const port = ports.length === 0 ? taken : await freePort();
        ports.push(port);
        const listen = `require('node:net').createServer().listen(${port}, '127.0.0.1', () => console.log('listening'))`;
        const started = LocalProcess.start('listener', process.execPath, ['-e', listen]);
        // Fails fast, with Node's EADDRINUSE in the message, when the process exits instead.
        await started.waitUntil(
          'listening',
          async () => started.tail().includes('listening'),
          5000,
        );
        server = started;
        return port;
      });
      expect(ports[0]).toBe(taken);
      expect(ports).toHaveLength(2);
      expect(port).toBe(ports[1]);
    } finally {
      await server?.stop();
      squatter.close();
    }
    // Any other failure is not retried.
    let calls = 0;
    await expect(
      retryOnPortClash(async () => {
        calls++;
        throw new Error('config error');
      }),
    ).rejects.toThrow('config error');
    expect(calls).toBe(1);
  });
});
