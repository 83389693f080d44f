import { readdir, readFile } from 'node:fs/promises';

/** Resident memory of a process, in bytes (Linux `/proc`); `undefined` if it is gone. */
export async function rssBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used, in milliseconds. */
export async function cpuMs(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100;
  } catch {
    return undefined;
  }
}

/** Sum over `pids`, skipping processes that cannot be read. */
export async function sumOver(
  pids: readonly number[],
  read: (pid: number) => Promise<number | undefined>,
): Promise<number> {
  const values = await Promise.all(pids.map(read));
  return values.reduce<number>((sum, value) => sum + (value ?? 0), 0);
}

/** `pid` and all its descendants (e.g. nginx's master and its workers), from `/proc`. */
export async function withDescendants(pid: number): Promise<number[]> {
  const all = [pid];
  for (let index = 0; index < all.length; index++) {
    const current = all[index] as number;
    try {
      const tasks = await readdir(`/proc/${current}/task`);
      for (const task of tasks) {
        const children = await readFile(`/proc/${current}/task/${task}/children`, 'utf8');
        for (const child of children.split(' ').filter(Boolean)) all.push(Number(child));
      }
    } catch {
      // The process is gone, or /proc has no children files: count what was found.
    }
  }
  return all;
}
