import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup/fetch-no-keepalive.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // SoftHSM tokens, PostgreSQL clusters and client processes are heavy on a 2-core machine.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ['default'],
  },
});
