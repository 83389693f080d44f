import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startInProcessNode } from '../support/in-process-node.js';
import { waitFor } from '../support/wait.js';

let dir: string;
const cleanups: Array<() => Promise<unknown>> = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'push-socket-'));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function startOnSocket(path: string) {
  const node = await startInProcessNode({ NODE_ID: 'sock', LISTEN_SOCKET: path });
  cleanups.push(() => node.server.close());
  return node;
}

/** GET `path` over the Unix socket `socketPath`: status, X-Node-Id and body. */
function getOverSocket(socketPath: string, path: string) {
  return new Promise<{ status: number; node: unknown; body: string }>((resolve, reject) => {
    get({ socketPath, path }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, node: response.headers['x-node-id'], body }),
      );
    }).once('error', reject);
  });
}

/** Frames a raw WebSocket client receives, as text. */
function collectFrames(socket: WebSocket): string[] {
  const frames: string[] = [];
  socket.on('message', (data) => frames.push(String(data)));
  return frames;
}

describe('a node with LISTEN_SOCKET', () => {
  it('serves HTTP and Socket.IO over WebSocket on the Unix socket, besides its TCP port', async () => {
    const path = join(dir, 'node.sock');
    const node = await startOnSocket(path);
    expect((await stat(path)).mode & 0o777).toBe(0o666);

    expect(await getOverSocket(path, '/healthz')).toMatchObject({ status: 200, node: 'sock' });
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);

    // Engine.IO open, Socket.IO connect, then the node's welcome: the whole handshake.
    const socket = new WebSocket(`ws+unix://${path}:/socket.io/?EIO=4&transport=websocket`);
    cleanups.push(async () => socket.terminate());
    const frames = collectFrames(socket);
    await once(socket, 'open');
    await waitFor(() => frames.length >= 1, { what: 'Engine.IO open packet' });
    expect(frames[0]).toMatch(/^0\{"sid":"sock\./);
    socket.send('40');
    await waitFor(() => frames.some((frame) => frame.startsWith('42["welcome"')), {
      what: 'welcome over the Unix socket',
    });
    expect(frames.find((frame) => frame.startsWith('42["welcome"'))).toContain('"node":"sock"');
  });

  it('removes its socket file when it closes', async () => {
    const path = join(dir, 'node.sock');
    const node = await startOnSocket(path);
    await node.server.close();
    expect(existsSync(path)).toBe(false);
  });

  it('replaces a socket file left by a process that died', async () => {
    const path = join(dir, 'node.sock');
    const script = `require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`;
    const crashed = spawn(process.execPath, ['-e', script], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await once(crashed.stdout, 'data');
    crashed.kill('SIGKILL');
    await once(crashed, 'exit');
    expect((await stat(path)).isSocket()).toBe(true);

    await startOnSocket(path);
    expect(await getOverSocket(path, '/readyz')).toMatchObject({ status: 200, node: 'sock' });
  });

  it('refuses a path that is a regular file, a socket another process listens on, or a missing directory', async () => {
    const file = join(dir, 'not-a-socket');
    await writeFile(file, 'keep me');
    await expect(startOnSocket(file)).rejects.toThrow(
      `LISTEN_SOCKET ${file} exists and is not a socket`,
    );
    expect(existsSync(file)).toBe(true);

    const taken = join(dir, 'taken.sock');
    const other = createServer().listen(taken);
    await once(other, 'listening');
    cleanups.push(() => new Promise((resolve) => other.close(resolve)));
    await expect(startOnSocket(taken)).rejects.toThrow(
      `LISTEN_SOCKET ${taken} is in use by another process`,
    );
    await expect(startOnSocket(join(dir, 'missing', 'node.sock'))).rejects.toThrow(
      /^listen E[A-Z]+: .*missing\/node\.sock/,
    );
  });
});
