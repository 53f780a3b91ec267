import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import DurationSequencer from './test/support/duration-sequencer.ts';

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
    // Vitest's default is one file at a time on two cores (cores - 1). The integration files
    // mostly wait on processes, timers and sockets, and the soak holds one worker for its whole
    // run (mostly asleep between its steps): three more files than cores keeps both cores busy
    // (sampled: 94 % busy with five, 86 % with four, and 14 s quicker).
    maxWorkers: availableParallelism() + 3,
    reporters: ['default', './test/support/summary-reporter.ts'],
    sequence: { sequencer: DurationSequencer },
    projects: [
      {
        // Pure logic on in-memory ports: one module graph per worker, not one per file (the
        // imports were three quarters of their time); nothing they import keeps state between
        // files, and they pass in shuffled order.
        extends: true,
        test: { name: 'unit', include: [UNIT], isolate: false },
      },
      {
        // Every file builds its own world (its own processes, ports and Redis key prefix) and
        // none stubs globals or the environment, so a worker runs file after file without a fresh
        // process for each: forking and importing the test support again cost 11 s of CPU a run.
        extends: true,
        test: {
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: [SOAK, UNIT],
          isolate: false,
        },
      },
      {
        // The longest file by far: it starts first (see duration-sequencer.ts), beside the
        // others, so the run is not its length plus theirs.
        extends: true,
        test: { name: 'soak', include: [SOAK] },
      },
    ],
  },
});
