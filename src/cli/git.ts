// The commit the code runs from, for provenance: `<sha>-dirty` when tracked files differ from it, 'unknown' outside
// git. Node only (bundles, exports, and the app's build, which records it for students exported in the browser).
import { execFileSync } from 'node:child_process';

export function gitCommit(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${commit}-dirty` : commit;
  } catch {
    return 'unknown';
  }
}
