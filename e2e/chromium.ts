// How every browser run here starts Debian's chromium: Playwright's browser tests and vitest's browser mode.
import { execFileSync } from 'node:child_process';

export function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  const found = execFileSync('sh', ['-c', 'command -v chromium || true'], { encoding: 'utf8' }).trim();
  if (!found) throw new Error("chromium is not installed: run `npm test` (it installs Debian's chromium) or set CHROMIUM_PATH.");
  return found;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** WebGPU is off by default in chromium on Linux; this turns it on (SwiftShader without a GPU). The sandbox cannot start as root. */
export function chromiumLaunchOptions() {
  return {
    executablePath: chromiumPath(),
    args: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', ...(isRoot ? ['--no-sandbox'] : [])],
  };
}
