#!/usr/bin/env node
// Runs a Node command of the project: `node scripts/cli.mjs <command> [args]` loads src/cli/<command>.ts and
// awaits its main(argv), whose return value is the exit status.
//
// A Vite server in middleware mode (no port, no file watching) loads the TypeScript (Node 20 cannot run .ts
// itself) with Vite's own transforms, so the engine's `import src from './x.wgsl?raw'` works as it does in the
// app and in vitest; configFile: false keeps the app's plugins out of it. Not runnerImport (as
// scripts/make-tokenizer.mjs uses): it closes its module runner once the import resolves, and the commands
// import modules lazily (gpu/node.ts loads Dawn with a dynamic import). The process exits explicitly at the end: Dawn (the `webgpu` package) keeps
// native handles that would otherwise hold the event loop open after the work is done.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cliDir = join(root, 'src', 'cli');
const commands = readdirSync(cliDir)
  .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
  .map((name) => name.slice(0, -3))
  .sort();

const [command, ...argv] = process.argv.slice(2);
const file = join(cliDir, `${command}.ts`);
if (!command || !/^[a-zA-Z][\w-]*$/.test(command) || !existsSync(file)) {
  console.error(`usage: node scripts/cli.mjs <command> [args]\n${command ? `no command "${command}" (src/cli/${command}.ts). ` : ''}Files in src/cli/: ${commands.join(', ')}`);
  process.exit(2);
}

const server = await createServer({
  configFile: false,
  root,
  logLevel: 'warn',
  appType: 'custom',
  server: { middlewareMode: true, hmr: false, watch: null, ws: false },
  optimizeDeps: { noDiscovery: true, include: [] },
});
try {
  const module = await server.ssrLoadModule(file);
  if (typeof module.main !== 'function') {
    console.error(`src/cli/${command}.ts has no main(argv) export: it is a helper, not a command`);
    process.exit(2);
  }
  const status = await module.main(argv);
  process.exit(typeof status === 'number' ? status : 0);
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
}
