import WebSocket from 'ws';

/** How long a forced collection may take before the benchmark gives up on it. */
const TIMEOUT_MS = 15_000;

/** The command-line flag that opens a process's inspector on a loopback port. */
export const inspectFlag = (port: number): string => `--inspect=127.0.0.1:${port}`;

/**
 * Forces a full garbage collection in the Node.js process whose inspector listens on `port`
 * (`HeapProfiler.collectGarbage`, what DevTools' "collect garbage" button does), so that its
 * resident memory is read without the garbage of whatever ran before.
 */
export async function collectGarbage(port: number): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${port}/json/list`);
  const [session] = (await response.json()) as Array<{ webSocketDebuggerUrl?: string }>;
  const url = session?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`no inspector session on 127.0.0.1:${port}`);
  const socket = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`garbage collection via ${url} took over ${TIMEOUT_MS} ms`)),
        TIMEOUT_MS,
      );
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('open', () => {
        socket.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
      });
      socket.on('message', (data) => {
        const reply = JSON.parse(String(data)) as { id?: number; error?: { message: string } };
        if (reply.id !== 1) return;
        clearTimeout(timer);
        if (reply.error) reject(new Error(`HeapProfiler.collectGarbage: ${reply.error.message}`));
        else resolve();
      });
    });
  } finally {
    socket.close();
  }
}
