// Runs the measurements in bench/ (not part of `vitest run`, whose include is src/ and scripts/):
//   npx vitest run -c bench/vitest.config.ts
//   SENSEFLOW_ADAPTER=llvmpipe npx vitest run -c bench/vitest.config.ts
// The project's config with `include` replaced (mergeConfig would append to it and run the whole suite).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import base from '../vite.config.ts';

export default defineConfig({
  ...base,
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: { ...base.test, include: ['bench/**/*.test.ts'], testTimeout: 900_000 },
});
