import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection } from 'node:net';

/** A process started by the benchmark, with the tail of its output for error messages. */
export class LocalProcess {
  private readonly output: string[] = [];
  private readonly exited: Promise<unknown>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.output.push(chunk.toString());
      if (this.output.length > 50) this.output.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = once(child, 'exit');
  }

  /** Starts `command` with `env` added to this process's environment. */
  static start(
    name: string,
    command: string,
    args: string[],
    env: Record<string, string> = {},
  ): LocalProcess {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new LocalProcess(name, child);
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} did not start`);
    return this.child.pid;
  }

  /** Whether the process has exited. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines it printed. */
  tail(): string {
    return this.output.join('').split('\n').slice(-15).join('\n');
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL, as a crash: no shutdown of any kind. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Polls `check` until it holds; fails early, with the output, if the process exits. */
  async waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running)
        throw new Error(`${this.name} exited while waiting for ${what}:\n${this.tail()}`);
      if (await check().catch(() => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${this.name}: no ${what} within ${timeoutMs} ms:\n${this.tail()}`);
  }
}

/** True when `url` answers HTTP 200. */
export async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url);
  await response.arrayBuffer();
  return response.status === 200;
}

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
export function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Stops all `processes`, in reverse start order. */
export async function stopAll(processes: LocalProcess[]): Promise<void> {
  for (const process of [...processes].reverse()) await process.stop();
}

/** How Node.js, nginx and Redis report that the port they were given is taken. */
const PORT_CLASH = /EADDRINUSE|Address already in use/;

/**
 * Runs `start` again, up to `attempts` times in all, when it failed because a port picked with
 * `freePort` was taken by another socket before the server listened on it (picking a port and
 * listening on it cannot be one step). `start` must pick fresh ports on every call and stop what
 * it started when it fails. Other errors are thrown at once.
 */
export async function retryOnPortClash<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= attempts || !PORT_CLASH.test(String(error))) throw error;
    }
  }
}
