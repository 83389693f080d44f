import { defineConfig } from 'vitest/config';

/** Files that start servers, containers, compose projects and browsers. */
const slow = {
  testTimeout: 60_000,
  hookTimeout: 600_000,
};

export default defineConfig({
  test: {
    // One file at a time: integration and e2e files each start real servers, containers and
    // browsers; on a 2-core machine running them side by side only makes failures unreadable.
    maxWorkers: 1,
    globalSetup: ['test/support/build-web-assets.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        // The benchmark harness's own tests, kept with the harness.
        test: {
          name: 'bench',
          include: ['bench/test/**/*.test.ts'],
        },
      },
      {
        // Every part of the cluster's backend against every backend (memory, Redis, ...).
        test: {
          name: 'contract',
          include: ['test/contract/**/*.test.ts'],
          ...slow,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          ...slow,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          ...slow,
        },
      },
    ],
  },
});
