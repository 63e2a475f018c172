/// <reference types="vitest/config" />
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';
import { gitCommit } from './src/cli/git.ts';
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

// The model bundles the app ships (the Generate tab's "bundled" models): every bundle under models/ that the
// generation pipeline runs (models/NAME/manifest.json, or one level deeper): text-to-image, and label-conditioned
// 2D points (the toy teachers in models/toy2d/, drawn as scatter images). The app imports their manifests from
// `virtual:bundled-models` and fetches their files from <base>models/<folder>/ like any other bundle URL: the dev
// server serves the project root (models/ included); the build copies exactly the files each manifest lists, so
// `vite preview` and any static host serve the same thing. Other files (the evaluator) stay out.
const BUNDLED_MODELS_MODULE = 'virtual:bundled-models';
const modelsRoot = join(dirname(fileURLToPath(import.meta.url)), 'models');

interface BundledModelEntry {
  /** Relative to the app's base: 'models/shapes-teacher/'. */
  path: string;
  manifest: { name: string; conditioning?: string; space?: { type?: string }; steps?: { schedule?: string }; files?: { path: string }[] };
}

function findBundledModels(warn: (message: string) => void): BundledModelEntry[] {
  if (!existsSync(modelsRoot)) return [];
  const folders = readdirSync(modelsRoot, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => [join(modelsRoot, d.name), ...readdirSync(join(modelsRoot, d.name), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(modelsRoot, d.name, e.name))]);
  const found: BundledModelEntry[] = [];
  for (const folder of folders) {
    const file = join(folder, 'manifest.json');
    if (!existsSync(file)) continue;
    let manifest: BundledModelEntry['manifest'];
    try {
      manifest = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      warn(`${relative(modelsRoot, file)} is not valid JSON (${(error as Error).message}): not bundled`);
      continue;
    }
    const textToImage = manifest.conditioning === 'text' && manifest.space?.type !== 'points';
    const labelledPoints = manifest.conditioning === 'label' && manifest.space?.type === 'points';
    if (!textToImage && !labelledPoints) continue;
    found.push({ path: `models/${relative(modelsRoot, folder).split(sep).join('/')}/`, manifest });
  }
  // Images before points (the tab opens on the first); within each, teachers first for now, then few-step students;
  // by name within those. The bundled student (shapes-senseflow) has not reached its accuracy target yet
  // (docs/ARCHITECTURE.md, "The bundled student"), so the tab opens on the teacher; flip the order (students are
  // the product) once a student matches it.
  const rank = (e: BundledModelEntry) => (e.manifest.space?.type === 'points' ? 2 : 0) + (e.manifest.steps?.schedule === 'anchors' ? 1 : 0);
  return found.sort((a, b) => rank(a) - rank(b) || a.manifest.name.localeCompare(b.manifest.name));
}

function bundledModels(): Plugin {
  const resolved = `\0${BUNDLED_MODELS_MODULE}`;
  return {
    name: 'senseflow:bundled-models',
    resolveId: (id) => (id === BUNDLED_MODELS_MODULE ? resolved : undefined),
    load(id) {
      if (id !== resolved) return undefined;
      const models = findBundledModels((message) => this.warn(message));
      for (const model of models) this.addWatchFile(join(modelsRoot, '..', model.path, 'manifest.json'));
      return `export default ${JSON.stringify(models)};`;
    },
    generateBundle() {
      const toyPaths = new Set(findToyTeachers().map((t) => t.path)); // toyTeachers() copies those
      for (const model of findBundledModels((message) => this.warn(message))) {
        if (toyPaths.has(model.path)) continue;
        for (const path of ['manifest.json', ...(model.manifest.files ?? []).map((f) => f.path)]) {
          this.emitFile({ type: 'asset', fileName: `${model.path}${path}`, source: readFileSync(join(modelsRoot, '..', model.path, path)) });
        }
      }
    },
  };
}

// The 2D toy teachers the Distill tab trains from (models/toy2d/<mixture>/, bundles of `space.type` points), kept
// apart from the Generate tab's list: `virtual:toy-teachers` maps each mixture to its folder ('ring' ->
// 'models/toy2d/ring/'), and the build copies the files each manifest lists, as for the text-to-image bundles.
// Its named export `evaluator` is the attribute evaluator's weights (models/evaluator/evaluator.safetensors, with
// the sha256 the worker checks), which read a Shapes student's images; the build copies that file too. (The Shapes
// teacher is a text-to-image bundle, served as the Generate tab's.)
const TOY_TEACHERS_MODULE = 'virtual:toy-teachers';
const EVALUATOR_FILE = 'evaluator/evaluator.safetensors';

function findToyTeachers(): { mixture: string; path: string; files: string[] }[] {
  const root = join(modelsRoot, 'toy2d');
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'manifest.json')))
    .map((d) => {
      const manifest = JSON.parse(readFileSync(join(root, d.name, 'manifest.json'), 'utf8')) as { name: string; files?: { path: string }[] };
      return { mixture: manifest.name.replace(/^toy2d-/, ''), path: `models/toy2d/${d.name}/`, files: ['manifest.json', ...(manifest.files ?? []).map((f) => f.path)] };
    });
}

function toyTeachers(): Plugin {
  const resolved = `\0${TOY_TEACHERS_MODULE}`;
  return {
    name: 'senseflow:toy-teachers',
    resolveId: (id) => (id === TOY_TEACHERS_MODULE ? resolved : undefined),
    load(id) {
      if (id !== resolved) return undefined;
      const evaluator = existsSync(join(modelsRoot, EVALUATOR_FILE)) ? { path: `models/${EVALUATOR_FILE}`, sha256: createHash('sha256').update(readFileSync(join(modelsRoot, EVALUATOR_FILE))).digest('hex') } : null;
      return `export default ${JSON.stringify(Object.fromEntries(findToyTeachers().map((t) => [t.mixture, t.path])))};\nexport const evaluator = ${JSON.stringify(evaluator)};`;
    },
    generateBundle() {
      for (const teacher of findToyTeachers()) {
        for (const path of teacher.files) this.emitFile({ type: 'asset', fileName: `${teacher.path}${path}`, source: readFileSync(join(modelsRoot, '..', teacher.path, path)) });
      }
      if (existsSync(join(modelsRoot, EVALUATOR_FILE))) this.emitFile({ type: 'asset', fileName: `models/${EVALUATOR_FILE}`, source: readFileSync(join(modelsRoot, EVALUATOR_FILE)) });
    },
  };
}

export default defineConfig({
  plugins: [react(), ortRuntime(), bundledModels(), toyTeachers()],
  define: {
    __ORT_VERSION__: JSON.stringify(ortVersion),
    // The commit the app is built from, for the provenance of students exported in the browser.
    __APP_COMMIT__: JSON.stringify(gitCommit()),
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
