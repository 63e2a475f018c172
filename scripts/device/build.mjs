#!/usr/bin/env node
// Packs what a training run needs on a machine that has neither node_modules nor npm (the lent GPU machine):
//   .dev/cli/entry.mjs (+ chunks)   the src/cli commands bundled by Vite (TypeScript, ?raw WGSL, fast-png inlined)
//   .dev/node_modules/webgpu/       Dawn for Node (index.js + the linux-x64 dawn.node, xz-compressed)
//   .dev/node.xz                    this machine's node binary (self-contained; ldd lists only libc/libstdc++)
// .dev/ is ignored by git (.git/info/exclude). scripts/device/README.md says how a run uses it.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dev = join(root, '.dev');
rmSync(join(dev, 'cli'), { recursive: true, force: true });
await build({
  configFile: false,
  root,
  logLevel: 'warn',
  ssr: { noExternal: true, external: ['webgpu'] },
  build: {
    ssr: join(root, 'scripts/device/entry.ts'),
    outDir: join(dev, 'cli'),
    emptyOutDir: true,
    minify: false,
    target: 'node20',
    rollupOptions: { external: ['webgpu', /^onnxruntime/, /^@huggingface/, 'vite', /^node:/], output: { entryFileNames: 'entry.mjs' } },
  },
});
const webgpu = join(dev, 'node_modules', 'webgpu');
mkdirSync(join(webgpu, 'dist', 'linux-x64'), { recursive: true });
for (const file of ['index.js', 'package.json']) copyFileSync(join(root, 'node_modules/webgpu', file), join(webgpu, file));
const dawn = join(webgpu, 'dist', 'linux-x64', 'dawn.node.xz');
if (!existsSync(dawn)) execFileSync('sh', ['-c', `xz -T2 -6 -c ${join(root, 'node_modules/webgpu/dist/linux-x64/dawn.node')} > ${dawn}`]);
const node = join(dev, 'node.xz');
if (!existsSync(node)) execFileSync('sh', ['-c', `xz -T2 -6 -c ${process.execPath} > ${node}`]);
for (const f of [dawn, node]) console.log(`${f}: ${(statSync(f).size / 2 ** 20).toFixed(1)} MiB`);
