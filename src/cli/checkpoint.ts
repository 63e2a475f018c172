// Training checkpoints that a stopped run resumes from exactly: the weights, their EMA, the AdamW moments and
// step counts, and a JSON state (step, options, the model configs). Random draws are a function of (seed, step)
// (see pretrainShapes.ts), so the step is the whole RNG position.
//
// Layout under <out>/: checkpoint/{model,ema,optimizer}.safetensors + state.json. A new checkpoint is written to
// checkpoint.tmp/ and swapped in by renames, so a run killed while writing leaves the previous one readable
// (checkpoint.old/ is used when checkpoint/ is missing).
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Module } from '../nn/module';
import { type AdamW, parseOptimizerState, serializeOptimizerState } from '../nn/optim';
export { parseOptimizerState, serializeOptimizerState };
import { loadModule, saveModule } from '../nn/safetensors';

export interface TrainingState {
  /** Optimizer steps taken (the next step to run). */
  step: number;
  [key: string]: unknown;
}

export interface Trainable {
  model: Module;
  ema: Module;
  optimizer: AdamW;
}

const FILES = { model: 'model.safetensors', ema: 'ema.safetensors', optimizer: 'optimizer.safetensors', state: 'state.json' } as const;

/** Writes <out>/checkpoint/ (atomically, see the header). */
export async function writeCheckpoint(out: string, run: Trainable, state: TrainingState): Promise<void> {
  const [model, ema, optimizer] = await Promise.all([saveModule(run.model), saveModule(run.ema), run.optimizer.state()]);
  writeCheckpointFiles(out, { [FILES.model]: model, [FILES.ema]: ema, [FILES.optimizer]: serializeOptimizerState(optimizer), [FILES.state]: `${JSON.stringify(state, null, 2)}\n` });
}

/** Writes files (name -> bytes or text) as <out>/checkpoint/, atomically (checkpoint.tmp/, then renames). */
export function writeCheckpointFiles(out: string, files: Record<string, Uint8Array | string>): void {
  const tmp = join(out, 'checkpoint.tmp');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const [name, data] of Object.entries(files)) writeFileSync(join(tmp, name), data);
  const current = join(out, 'checkpoint');
  const old = join(out, 'checkpoint.old');
  rmSync(old, { recursive: true, force: true });
  if (existsSync(current)) renameSync(current, old);
  renameSync(tmp, current);
  rmSync(old, { recursive: true, force: true });
}

/**
 * A file's bytes as a plain Uint8Array. Not the Buffer readFileSync returns: Buffer.slice() shares memory where
 * Uint8Array.slice() copies, and parseSafetensors slices its input to get each tensor's own ArrayBuffer (with a
 * Buffer it got the whole underlying allocation instead, and loaded wrong values).
 */
export function readBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

/** The checkpoint's state.json, or null when <out> has none. */
export function readCheckpointState(out: string): TrainingState | null {
  const dir = checkpointDir(out);
  return dir ? (JSON.parse(readFileSync(join(dir, FILES.state), 'utf8')) as TrainingState) : null;
}

/** The folder of <out>'s last complete checkpoint (checkpoint/, or checkpoint.old/ after an interrupted swap), or null. */
export function checkpointDir(out: string): string | null {
  for (const name of ['checkpoint', 'checkpoint.old']) {
    const dir = join(out, name);
    if (existsSync(join(dir, FILES.state))) return dir;
  }
  return null;
}

/** Loads weights, EMA and optimizer state from <out>'s checkpoint; returns its state. Throws if there is none. */
export function restoreCheckpoint(out: string, run: Trainable): TrainingState {
  const dir = checkpointDir(out);
  if (!dir) throw new Error(`--resume: ${out} has no checkpoint (expected ${join(out, 'checkpoint', FILES.state)})`);
  const state = JSON.parse(readFileSync(join(dir, FILES.state), 'utf8')) as TrainingState;
  loadModule(run.model, readBytes(join(dir, FILES.model)));
  loadModule(run.ema, readBytes(join(dir, FILES.ema)));
  run.optimizer.loadState(parseOptimizerState(readBytes(join(dir, FILES.optimizer))));
  return state;
}

/**
 * On resume, the options that shape the run (seed, batch, architecture) must be the checkpoint's: a different
 * one would silently make a different run. Throws naming each difference.
 */
export function checkSameRun(saved: Record<string, unknown>, current: Record<string, unknown>, keys: readonly string[]): void {
  const differences = keys
    .filter((key) => JSON.stringify(saved[key]) !== JSON.stringify(current[key]))
    .map((key) => `${key}: the checkpoint has ${JSON.stringify(saved[key])}, this command gives ${JSON.stringify(current[key])}`);
  if (differences.length > 0) throw new Error(`--resume: this command describes a different run than the checkpoint's:\n  ${differences.join('\n  ')}`);
}
