// The engine's unit tests once more, in headless chromium on its WebGPU (SwiftShader here), so the
// same kernels are proven in the browser as in Node: `npx vitest run --config vitest.browser.config.ts`.
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { chromiumLaunchOptions } from './e2e/chromium.ts';
import base from './vite.config.ts';

export default defineConfig({
  ...base,
  test: {
    include: ['src/nn/**/*.test.ts', 'src/onnx/exportNets.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    browser: {
      enabled: true,
      headless: true,
      provider: playwright({ launchOptions: chromiumLaunchOptions() }),
      instances: [{ browser: 'chromium' }],
      screenshotFailures: false,
    },
  },
});
