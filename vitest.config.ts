import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Real mounts and the emulator share two cores: keep file-level parallelism modest.
    maxWorkers: 2,
    pool: 'forks',
  },
})
