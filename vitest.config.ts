import { defineConfig } from 'vitest/config';

/*
 * Two projects: `unit` (pure logic and in-process HTTP, no services) and `integration`
 * (real Postgres and Redis, found by test/support/global-setup.ts). Each integration test
 * file gets its own database cloned from a migrated template, and its own Redis prefix.
 */
export default defineConfig({
  test: {
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Unit tests run first; the groups differ in parallelism.
          sequence: { groupOrder: 0 },
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          globalSetup: ['test/support/global-setup.ts'],
          // Above the tests' own deadlines (test/support/wait.ts): a busy machine slows, never fails, a test.
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Two cores: files run in parallel, but not so many that worker processes starve.
          maxWorkers: 3,
        },
      },
    ],
  },
});
