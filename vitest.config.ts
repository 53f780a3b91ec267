import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const SOAK = 'test/integration/soak.test.ts';
const UNIT = 'test/unit/**/*.test.ts';

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    // Integration tests start real processes (HAProxy, Greenlight itself); give them room
    // on a 2-core machine without making any assertion depend on speed.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Vitest's default is one file at a time on two cores (cores - 1), and the integration files
    // mostly wait on processes, timers and sockets: one more file than cores keeps both busy.
    maxWorkers: availableParallelism() + 1,
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        // Pure logic on in-memory ports: one module graph per worker, not one per file (the
        // imports were three quarters of their time); nothing they import keeps state between
        // files, and they pass in shuffled order.
        extends: true,
        test: { name: 'unit', include: [UNIT], isolate: false },
      },
      {
        extends: true,
        test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: [SOAK, UNIT] },
      },
      {
        // The soak drives several processes under load of its own: it runs after the rest, so
        // it neither starves their timing nor is starved by them.
        extends: true,
        test: { name: 'soak', include: [SOAK], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
