/// <reference types="vitest/config" />
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import react from '@vitejs/plugin-react';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';
import { ORT_RUNTIME_DIR, ORT_RUNTIME_FILES } from './src/pipeline/ortRuntime.ts';

const require = createRequire(import.meta.url);
// The package exports its runtime files but not its package.json; find the dist folder through one of them.
const ortDist = dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm'));
const ortVersion: string = JSON.parse(readFileSync(join(ortDist, '..', 'package.json'), 'utf8')).version;

/** Tests that need a browser's storage (IndexedDB, OPFS): vitest.browser.config.ts runs them, the Node run skips them. */
export const BROWSER_ONLY_TESTS = ['src/state/history.test.ts', 'src/pipeline/modelCache.test.ts'];

// We serve ORT's wasm runtime ourselves under /ort/ rather than let ORT fetch it from a CDN, so the app
// works offline and always pairs the JS and the wasm of one build.

function ortRuntime(): Plugin {
  const serve = (url: string | undefined, res: import('node:http').ServerResponse): boolean => {
    const path = url?.split('?')[0] ?? '';
    const name = path.slice(path.lastIndexOf(`/${ORT_RUNTIME_DIR}`) + ORT_RUNTIME_DIR.length + 1);
    if (!path.includes(`/${ORT_RUNTIME_DIR}`) || !(ORT_RUNTIME_FILES as readonly string[]).includes(name)) return false;
    const file = join(ortDist, name);
    res.setHeader('Content-Type', name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
    res.setHeader('Content-Length', statSync(file).size);
    createReadStream(file).pipe(res);
    return true;
  };
  return {
    name: 'senseflow:ort-runtime',
    configureServer(server) {
      server.middlewares.use((req, res, next) => (serve(req.url, res) ? undefined : next()));
    },
    generateBundle() {
      for (const name of ORT_RUNTIME_FILES) {
        this.emitFile({ type: 'asset', fileName: `${ORT_RUNTIME_DIR}${name}`, source: readFileSync(join(ortDist, name)) });
      }
    },
  };
}

export default defineConfig({
  plugins: [react(), ortRuntime()],
  define: {
    __ORT_VERSION__: JSON.stringify(ortVersion),
  },
  resolve: {
    // Makes `import 'onnxruntime-web/webgpu'` resolve to the build that loads its wasm from wasmPaths
    // instead of inlining a second copy of the ~27 MB binary into our bundle.
    conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions],
  },
  optimizeDeps: {
    exclude: ['onnxruntime-web'],
  },
  worker: {
    format: 'es',
  },
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 2048,
  },
  preview: {
    port: 4173,
    host: 'localhost',
  },
  server: {
    port: 5173,
    host: 'localhost',
  },
  test: {
    include: ['src/**/*.test.ts', 'scripts/**/*.test.ts'],
    exclude: ['**/node_modules/**', ...BROWSER_ONLY_TESTS],
    environment: 'node',
    // GPU tests share one software adapter; running files in parallel on two cores only thrashes it.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
