import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'compare/**/*.test.ts'],
    // Integration suites boot real daemons; two workers match this 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: { TANDEM_LOG_LEVEL: 'warn' },
  },
})
