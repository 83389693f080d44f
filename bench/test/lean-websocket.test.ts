import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { LeanWebSocket } from '../load/lean-websocket.js';

let server: WebSocketServer | undefined;

afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** A `ws` server on a free loopback port; resolves with its URL and its first connection. */
async function startServer(): Promise<{ url: string; connection: Promise<WebSocket> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server = wss;
  await new Promise((resolve) => wss.once('listening', resolve));
  const { port } = wss.address() as AddressInfo;
  const connection = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  return { url: `ws://127.0.0.1:${port}/path?x=1`, connection };
}

describe("the load generator's WebSocket client", () => {
  it('receives every frame size, fragmented messages and answers pings; sends masked text', async () => {
    const { url, connection } = await startServer();
    const received: string[] = [];
    const closes: string[] = [];
    const client = await LeanWebSocket.open(url, {
      onMessage: (text) => received.push(text),
      onClose: (reason) => closes.push(reason),
    });
    const peer = await connection;
    const fromClient = new Promise<string>((resolve) =>
      peer.once('message', (data) => resolve(String(data))),
    );
    const pong = new Promise<string>((resolve) =>
      peer.once('pong', (data) => resolve(String(data))),
    );

    const medium = 'm'.repeat(300); // 16-bit length
    const large = 'é'.repeat(40_000); // 80,000 bytes: 64-bit length, many TCP chunks
    peer.send('small');
    peer.send(medium);
    peer.send(large);
    peer.send('frag-', { fin: false });
    peer.send('ment', { fin: true });
    peer.ping('are you there');
    client.send(`back ${'b'.repeat(200)}`);

    await vi.waitFor(() => expect(received).toHaveLength(4));
    expect(received).toEqual(['small', medium, large, 'frag-ment']);
    expect(await pong).toBe('are you there');
    expect(await fromClient).toBe(`back ${'b'.repeat(200)}`);

    peer.close();
    await vi.waitFor(() => expect(closes).toHaveLength(1));
    expect(closes).toEqual(['closed by the server']);
  });

  it('refuses an endpoint that does not upgrade', async () => {
    const { url } = await startServer();
    await expect(
      LeanWebSocket.open('ws://127.0.0.1:1/', { onMessage: () => {}, onClose: () => {} }),
    ).rejects.toThrow(/ECONNREFUSED/);
    await expect(
      LeanWebSocket.open('wss://127.0.0.1:1/', { onMessage: () => {}, onClose: () => {} }),
    ).rejects.toThrow(/only ws:/);
    const wss = server;
    if (wss === undefined) throw new Error('no server');
    wss.options.verifyClient = () => false;
    await expect(
      LeanWebSocket.open(url, { onMessage: () => {}, onClose: () => {} }),
    ).rejects.toThrow(/upgrade refused: HTTP\/1.1 401/);
  });
});
