// Browser tests run Debian's chromium (never a downloaded build) against the production build served
// by `vite preview`, so the wasm and asset serving under test is what users get.
import { execFileSync } from 'node:child_process';
import { defineConfig, devices } from '@playwright/test';

function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  const found = execFileSync('sh', ['-c', 'command -v chromium || true'], { encoding: 'utf8' }).trim();
  if (!found) throw new Error("chromium is not installed: run `npm test` (it installs Debian's chromium) or set CHROMIUM_PATH.");
  return found;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const PORT = 4173;

export default defineConfig({
  testDir: 'e2e',
  // One browser at a time: WebGPU here is SwiftShader on two CPU cores.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 20_000 },
  reporter: [['list']],
  snapshotPathTemplate: '{testDir}/__snapshots__/{testFilePath}/{arg}-{projectName}-{platform}{ext}',
  use: {
    baseURL: `http://localhost:${PORT}`,
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    colorScheme: 'dark',
    locale: 'en-US',
    timezoneId: 'UTC',
    trace: 'retain-on-failure',
  },
  projects: [
    {
      name: 'chromium-webgpu',
      use: {
        ...devices['Desktop Chrome'],
        viewport: { width: 1280, height: 800 },
        deviceScaleFactor: 1,
        launchOptions: {
          executablePath: chromiumPath(),
          // WebGPU is off by default in chromium on Linux; this turns it on (SwiftShader on machines
          // without a GPU). The sandbox cannot start as root.
          args: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', ...(isRoot ? ['--no-sandbox'] : [])],
        },
      },
    },
  ],
  webServer: {
    command: `npx vite build && npx vite preview --port ${PORT} --strictPort`,
    url: `http://localhost:${PORT}`,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
