// The engine's unit tests once more, in headless chromium on its WebGPU (SwiftShader here), so the
// same kernels are proven in the browser as in Node: `npx vitest run --config vitest.browser.config.ts`;
// and the storage modules that only a browser has (IndexedDB history, OPFS model cache).
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { chromiumLaunchOptions } from './e2e/chromium.ts';
import base, { BROWSER_ONLY_TESTS } from './vite.config.ts';

export default defineConfig({
  ...base,
  test: {
    include: ['src/nn/**/*.test.ts', 'src/onnx/exportNets.test.ts', 'src/pipeline/pngMeta.test.ts', 'src/pipeline/generateWebgpu.test.ts', ...BROWSER_ONLY_TESTS],
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
