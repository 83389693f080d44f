import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
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
      /^GET \/socket\.io\/\?EIO=4&transport=polling HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\nAccept: \*\/\*\r\n\r\n$/,
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

  it('reads a chunked body that arrives in pieces, a character cut between them', async () => {
    const { url } = await scripted((_request, _index, socket) => {
      const body = Buffer.from('aé'.repeat(3_000));
      const head = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n`;
      const whole = Buffer.concat([Buffer.from(head), body, Buffer.from('\r\n0\r\n\r\n')]);
      // Cut inside the size line, inside the data (within a two-byte character), before the end.
      const cuts = [head.length - 3, head.length + 1001, whole.length - 3];
      let from = 0;
      for (const [index, cut] of cuts.entries()) {
        const piece = whole.subarray(from, cut);
        setTimeout(() => socket.write(piece), 20 * index);
        from = cut;
      }
      setTimeout(() => socket.write(whole.subarray(from)), 20 * cuts.length);
      return undefined;
    });
    expect(await lines.exchange(url)).toEqual({ status: 200, text: 'aé'.repeat(3_000) });
  });

  it('takes a new connection after Connection: close, after the server hung up, and after 20 s idle', async () => {
    const { url, connections } = await scripted((_request, index, socket) => {
      if (index === 0) return `${ok('one').replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')}`;
      if (index === 1) {
        // Answered, then the server closes its side (as nginx does on a reload).
        socket.end(ok('two'));
        return undefined;
      }
      return ok(`three-${index}`);
    });
    expect((await lines.exchange(url)).text).toBe('one');
    expect((await lines.exchange(url)).text).toBe('two');
    // Taken from the pool before or after the hang-up was seen: either way answered, on a new
    // connection (a request on the closed one is sent again).
    expect((await lines.exchange(url)).text).toMatch(/^three-/);
    expect(connections()).toBe(3);
    const now = Date.now();
    const clock = vi.spyOn(Date, 'now').mockReturnValue(now + 21_000);
    try {
      expect((await lines.exchange(url)).text).toMatch(/^three-/);
    } finally {
      clock.mockRestore();
    }
    expect(connections()).toBe(4);
  });

  it('answers 204 without waiting for a body; a body cut by a reset is an error', async () => {
    const { url } = await scripted((_request, index, socket) => {
      if (index === 0) return 'HTTP/1.1 204 No Content\r\n\r\n';
      socket.write('HTTP/1.1 200 OK\r\n\r\npart of');
      setTimeout(() => socket.resetAndDestroy(), 20);
      return undefined;
    });
    expect(await lines.exchange(url)).toEqual({ status: 204, text: '' });
    await expect(lines.exchange(url)).rejects.toThrow(/ECONNRESET/);
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
