// Writing a command's output file: its folder is made first, so `--out runs/new/x.json` after a long evaluation is
// written rather than lost to ENOENT.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function writeOutput(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}
