// What the two commands that write model bundles share: `npm run bundle` (a pretraining run's teacher) and
// `npm run export` (a distillation run's student). Reading a run folder with messages that name the file and
// say what to do, loading a checkpoint into its net, the ONNX parity check on ORT's wasm EP, the git commit for
// provenance, and the command's main (usage on exit 2, the error's message on exit 1, the files on success).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeAdapterKind } from '../gpu/node';
import type { Engine } from '../nn/engine';
import type { Module } from '../nn/module';
import { loadModule, parseSafetensors } from '../nn/safetensors';
import type { Ort } from '../onnx/exportOrt';
import { parameterValuesOf } from '../onnx/graph';
import { BundleError, type Manifest, MANIFEST_FILE, parseManifest } from '../pipeline/manifest';
import { withEngine } from './engine';
import { UsageError } from './options';

/** A bundle's manifest.json, validated; a malformed one is refused with a message that names the file. */
export function readBundleManifest(dir: string): Manifest {
  const manifestPath = join(dir, MANIFEST_FILE);
  try {
    return parseManifest(new Uint8Array(readFileSync(manifestPath)));
  } catch (error) {
    throw new Error(error instanceof BundleError ? join(dir, error.message) : `${manifestPath}: ${(error as Error).message}`);
  }
}

/** Largest |ORT - engine| accepted before writing (measured ~1e-6 on the nets with random weights). */
export const PARITY_LIMIT = 1e-3;

export function readRunFile(run: string, name: string, hint: string): Uint8Array {
  const path = join(run, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: ${hint}`);
  return new Uint8Array(readFileSync(path));
}

export function readRunJson(run: string, name: string, hint: string): Record<string, unknown> {
  const path = join(run, name);
  const bytes = readRunFile(run, name, hint);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${path}: expected a JSON object`);
  return value as Record<string, unknown>;
}

export function objectField(json: Record<string, unknown>, key: string, file: string): Record<string, unknown> {
  const value = json[key];
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${file}: "${key}" is missing or not an object`);
  return value as Record<string, unknown>;
}

/**
 * Loads a checkpoint into the net (all or nothing, naming each mismatched tensor) and returns its values by path.
 * `describedBy` says where the net's config came from, for the message.
 */
export function loadCheckpoint(net: Module, bytes: Uint8Array, file: string, describedBy = 'the net config.json describes') {
  try {
    loadModule(net, bytes);
  } catch (error) {
    throw new Error(`${file} does not fit ${describedBy}: ${(error as Error).message}`);
  }
  return parameterValuesOf(parseSafetensors(bytes).tensors);
}

export { gitCommit } from './git';

export function checkParity(label: string, diff: number): void {
  if (!(diff <= PARITY_LIMIT)) throw new Error(`the exported ${label} differs from the engine by ${diff} (limit ${PARITY_LIMIT}); bundle not written`);
}

export async function loadOrt(): Promise<Ort> {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  return ort;
}

/** A noise level as written in a manifest: 0.82 rather than 0.8200000000000001. */
export { roundLevel } from '../pipeline/studentBundle';

/**
 * The main of a bundle-writing command: parse (a UsageError prints the usage, exit 2), do the work on an engine
 * (an error prints its message, which names the file and the field, exit 1: a stack trace would only bury it),
 * then list the files written.
 */
export async function bundleCommand<O extends { adapter: NodeAdapterKind; out: string }>(
  command: string,
  usage: string,
  argv: readonly string[],
  parse: (argv: readonly string[]) => O,
  work: (engine: Engine, options: O) => Promise<Manifest>,
): Promise<number> {
  let options: O;
  try {
    options = parse(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n${usage}`);
    return 2;
  }
  let manifest: Manifest;
  try {
    manifest = await withEngine(options.adapter, (engine) => work(engine, options));
  } catch (error) {
    console.error(`${command}: ${(error as Error).message}`);
    return 1;
  }
  const total = manifest.files.reduce((n, f) => n + f.bytes, 0);
  console.log(`[${command}] wrote ${options.out}: ${manifest.files.length} files, ${(total / 1e6).toFixed(2)} MB`);
  for (const f of manifest.files) console.log(`  ${f.path}  ${f.bytes} bytes  sha256 ${f.sha256.slice(0, 16)}...`);
  if (manifest.metrics.onnxMaxAbsDiff !== undefined) console.log(`[${command}] ONNX vs engine, max abs diff: ${JSON.stringify(manifest.metrics.onnxMaxAbsDiff)}`);
  return 0;
}
