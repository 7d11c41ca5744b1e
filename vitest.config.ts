import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['protocol/**/*.test.ts', 'labs/**/*.test.ts', 'lab-server/**/*.test.ts'],
  },
});
