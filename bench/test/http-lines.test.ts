import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpLines } from '../load/http-lines.js';

const servers: Server[] = [];
const lines = new HttpLines();

afterEach(async () => {
  lines.close();
  await Promise.all(
    servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))),
  );
});

/**
 * A TCP server that answers each request (once its head, and its body by Content-Length, have
 * arrived) with what `answer` returns; records the requests and how many connections came.
 */
async function scripted(
  answer: (request: string, index: number, socket: Socket) => string | undefined,
): Promise<{ url: string; requests: string[]; connections: () => number }> {
  const requests: string[] = [];
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    let pending = '';
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      pending += chunk;
      for (;;) {
        const headEnd = pending.indexOf('\r\n\r\n');
        if (headEnd === -1) return;
        const length = Number(/content-length: *(\d+)/i.exec(pending.slice(0, headEnd))?.[1] ?? 0);
        if (Buffer.byteLength(pending.slice(headEnd + 4)) < length) return;
        const request = pending.slice(0, headEnd + 4 + length);
        pending = pending.slice(request.length);
        requests.push(request);
        const reply = answer(request, requests.length - 1, socket);
        if (reply !== undefined) socket.write(reply);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`,
    requests,
    connections: () => connections,
  };
}

const ok = (body: string) =>
  `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe("the load generator's HTTP connections", () => {
  it('sends GETs and text POSTs, and reuses one kept-alive connection for requests in turn', async () => {
    const { url, requests, connections } = await scripted((request) =>
      ok(request.startsWith('POST') ? 'ok' : 'é'.repeat(50_000)),
    );
    expect(await lines.exchange(url)).toEqual({ status: 200, text: 'é'.repeat(50_000) });
    expect(await lines.exchange(url, 'ü body')).toEqual({ status: 200, text: 'ok' });
    expect(await lines.exchange(url)).toMatchObject({ status: 200 });
    expect(connections()).toBe(1);
    expect(requests[0]).toMatch(
      /^GET \/socket\.io\/\?EIO=4&transport=polling HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n\r\n$/,
    );
    expect(requests[1]).toMatch(/^POST .* HTTP\/1\.1\r\n/);
    expect(requests[1]).toContain(
      'Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 7\r\n\r\nü body',
    );
  });

  it('opens a second connection for a request made while the first is busy', async () => {
    const held: Socket[] = [];
    const { url, connections } = await scripted((_request, index, socket) => {
      if (index === 0) {
        held.push(socket);
        return undefined;
      }
      return ok('second');
    });
    const first = lines.exchange(url);
    expect(await lines.exchange(url, 'x')).toEqual({ status: 200, text: 'second' });
    held[0]?.write(ok('first'));
    expect(await first).toEqual({ status: 200, text: 'first' });
    expect(connections()).toBe(2);
  });

  it('reads chunked bodies, bodies delimited by the close, and an error status', async () => {
    const { url, connections } = await scripted((_request, index, socket) => {
      if (index === 0) {
        return 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';
      }
      if (index === 1) {
        socket.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end');
        return undefined;
      }
      return 'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad';
    });
    expect(await lines.exchange(url)).toEqual({ status: 200, text: 'hello world' });
    expect(await lines.exchange(url)).toEqual({ status: 200, text: 'until the end' });
    expect(await lines.exchange(url)).toEqual({ status: 502, text: 'bad' });
    // The close-delimited answer ended its connection: the third request needed another one.
    expect(connections()).toBe(2);
  });

  it('rejects when the connection is cut before the answer, or cannot be opened', async () => {
    const { url } = await scripted((_request, _index, socket) => {
      socket.destroy();
      return undefined;
    });
    await expect(lines.exchange(url)).rejects.toThrow(/connection closed|ECONNRESET/);
    await expect(lines.exchange('http://127.0.0.1:1/')).rejects.toThrow(/ECONNREFUSED/);
    await expect(lines.exchange('https://127.0.0.1:1/')).rejects.toThrow(/only http:/);
  });

  it('rejects what is not an HTTP answer, without throwing from the socket', async () => {
    const { url } = await scripted(() => 'SSH-2.0-OpenSSH\r\n\r\n');
    await expect(lines.exchange(url)).rejects.toThrow(/not an HTTP response/);
    const chunked = await scripted(
      () => 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnope\r\n',
    );
    await expect(lines.exchange(chunked.url)).rejects.toThrow(/bad chunk size/);
  });
});
