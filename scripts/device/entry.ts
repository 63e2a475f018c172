// The project's Node commands as one bundle, for a machine without node_modules (the lent GPU machine, see
// scripts/device/README.md): `node .dev/cli/entry.mjs <command> [args]` does what `node scripts/cli.mjs <command>`
// does here. Built by scripts/device/build.mjs; the `webgpu` package travels beside it.
const commands = import.meta.glob<{ main?: (argv: readonly string[]) => Promise<number | void> }>(['../../src/cli/*.ts', '!../../src/cli/*.test.ts']);

const [command, ...argv] = process.argv.slice(2);
const load = commands[`../../src/cli/${command}.ts`];
if (!load) {
  console.error(`usage: node entry.mjs <command> [args]; commands: ${Object.keys(commands).map((k) => k.slice(14, -3)).join(', ')}`);
  process.exit(2);
}
try {
  const module = await load();
  if (typeof module.main !== 'function') throw new Error(`src/cli/${command}.ts has no main(argv)`);
  const status = await module.main(argv);
  process.exit(typeof status === 'number' ? status : 0);
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
}
