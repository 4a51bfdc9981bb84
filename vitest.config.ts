import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['protocol/**/*.test.ts', 'server/**/*.test.ts', 'loadtest/**/*.test.ts', 'bench/**/*.test.ts', 'web/**/*.test.ts', 'client/**/*.test.ts'],
    globalSetup: ['server/test/support/global-setup.ts'],
    // Integration tests start real servers; two cores, so a few files at a time.
    pool: 'forks',
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
