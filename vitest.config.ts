import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // End-to-end tests drive a real Chromium and real command-line tools.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 2,
    // The build cache is off: every test prints what it checks; test/build-cache.test.ts turns it on.
    env: { TZ: 'UTC', BRIEFING_PACK_CACHE: 'off' },
  },
});
