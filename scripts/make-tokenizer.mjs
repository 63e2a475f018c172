#!/usr/bin/env node
// Writes the Shapes tokenizer's Hugging Face files (models/tokenizer/: tokenizer.json, tokenizer_config.json,
// special_tokens_map.json) from src/data/tokenizerFiles.ts, the same constants the pure-TS encoder uses.
//
//   node scripts/make-tokenizer.mjs
//
// Vite's runnerImport loads the TypeScript module (Node 20 cannot run .ts itself); configFile: false keeps the
// app's plugins out of it. src/data/tokenizer.test.ts fails while the committed files differ from what this writes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runnerImport } from 'vite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'models', 'tokenizer');
const { module } = await runnerImport(join(root, 'src', 'data', 'tokenizerFiles.ts'), { configFile: false, root });
mkdirSync(outDir, { recursive: true });
for (const [name, text] of Object.entries(module.tokenizerFiles())) {
  writeFileSync(join(outDir, name), text);
  console.log(`[make-tokenizer] wrote ${join('models', 'tokenizer', name)} (${text.length} bytes)`);
}
