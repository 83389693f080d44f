import WebSocket from 'ws';

/** How long an inspector command may take before the caller gives up on it. */
const TIMEOUT_MS = 15_000;

/** The command-line flag that opens a process's inspector on a loopback port. */
export const inspectFlag = (port: number): string => `--inspect=127.0.0.1:${port}`;

/** Sends one DevTools-protocol command to the process whose inspector listens on `port`. */
async function command(port: number, method: string, params: object = {}): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${port}/json/list`);
  const [session] = (await response.json()) as Array<{ webSocketDebuggerUrl?: string }>;
  const url = session?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`no inspector session on 127.0.0.1:${port}`);
  const socket = new WebSocket(url);
  try {
    return await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${method} via ${url} took over ${TIMEOUT_MS} ms`)),
        TIMEOUT_MS,
      );
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('open', () => {
        socket.send(JSON.stringify({ id: 1, method, params }));
      });
      socket.on('message', (data) => {
        const reply = JSON.parse(String(data)) as {
          id?: number;
          result?: unknown;
          error?: { message: string };
        };
        if (reply.id !== 1) return;
        clearTimeout(timer);
        if (reply.error) reject(new Error(`${method}: ${reply.error.message}`));
        else resolve(reply.result);
      });
    });
  } finally {
    socket.close();
  }
}

/**
 * Forces a full garbage collection in the Node.js process whose inspector listens on `port`
 * (`HeapProfiler.collectGarbage`, what DevTools' "collect garbage" button does), so that its
 * memory is read without the garbage of whatever ran before.
 */
export async function collectGarbage(port: number): Promise<void> {
  await command(port, 'HeapProfiler.collectGarbage');
}

/** Memory the process holds after a full collection: heap used plus external and array buffers, bytes. */
export async function liveMemory(port: number): Promise<number> {
  await collectGarbage(port);
  const result = (await command(port, 'Runtime.evaluate', {
    expression: 'JSON.stringify(process.memoryUsage())',
    returnByValue: true,
  })) as { result: { value: string } };
  const usage = JSON.parse(result.result.value) as { heapUsed: number; external: number };
  return usage.heapUsed + usage.external;
}
