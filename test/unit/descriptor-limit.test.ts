import { describe, expect, it } from 'vitest';
import {
  DESCRIPTOR_HEADROOM,
  fitConnectionsToDescriptors,
  openFileLimit,
} from '../../src/lifecycle/descriptor-limit.js';

const PROC_LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                20000                files
Max locked memory         8388608              8388608              bytes
`;

describe('open-file limit', () => {
  it("reads the soft limit from /proc/self/limits' format", () => {
    expect(openFileLimit(PROC_LIMITS)).toBe(20_000);
    expect(
      openFileLimit(PROC_LIMITS.replace('20000                20000', 'unlimited unlimited')),
    ).toBe(undefined);
    expect(openFileLimit('nothing of the kind')).toBeUndefined();
  });

  it("reads this process's own limit on Linux", () => {
    if (process.platform !== 'linux') return;
    expect(openFileLimit()).toBeGreaterThan(0);
  });
});

describe('MAX_CONNECTIONS against the descriptor limit', () => {
  it('keeps a MAX_CONNECTIONS the limit holds, and leaves "no limit" and an unknown limit alone', () => {
    expect(fitConnectionsToDescriptors(10_000, true, 20_000)).toEqual({
      ok: true,
      maxConnections: 10_000,
    });
    expect(fitConnectionsToDescriptors(0, true, 100)).toEqual({ ok: true, maxConnections: 0 });
    expect(fitConnectionsToDescriptors(10_000, true, undefined)).toEqual({
      ok: true,
      maxConnections: 10_000,
    });
  });

  it('refuses an explicit MAX_CONNECTIONS the limit cannot hold, saying what to change', () => {
    const fit = fitConnectionsToDescriptors(10_000, true, 4096);
    expect(fit).toEqual({ ok: false, problem: expect.any(String) });
    const { problem } = fit as { problem: string };
    expect(problem).toContain(
      `MAX_CONNECTIONS=10000 needs ${10_000 + DESCRIPTOR_HEADROOM} file descriptors`,
    );
    expect(problem).toContain('may open 4096');
    expect(problem).toContain(`set MAX_CONNECTIONS to at most ${4096 - DESCRIPTOR_HEADROOM}`);
    expect(problem).toContain('--ulimit nofile=');
  });

  it('lowers the default to what the limit holds, with a warning', () => {
    expect(fitConnectionsToDescriptors(10_000, false, 1024)).toEqual({
      ok: true,
      maxConnections: 1024 - DESCRIPTOR_HEADROOM,
      warning: expect.stringMatching(/^MAX_CONNECTIONS lowered from its default 10000 to 768/),
    });
    expect(fitConnectionsToDescriptors(10_000, false, 100)).toEqual({
      ok: false,
      problem: expect.stringMatching(/may open only 100 files/),
    });
  });
});
