import { defineConfig } from 'vitest/config';

/** Tests that put the whole machine under load: each runs alone, after the rest of the suite. */
const LOAD_TESTS = ['test/soak/**/*.test.ts', 'test/bench/**/*.test.ts'];

export default defineConfig({
  test: {
    pool: 'forks',
    // The leak test counts surviving objects with FinalizationRegistry, which needs gc().
    execArgv: ['--expose-gc'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: LOAD_TESTS,
          sequence: { groupOrder: 0 },
        },
      },
      {
        // The soak judges the server's RSS and the benchmark smoke runs a dozen processes: on two
        // cores, either one next to the other (or next to the suite) made the soak's verdict flaky.
        extends: true,
        test: { name: 'load', include: LOAD_TESTS, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
