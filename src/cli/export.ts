// `npm run export -- runs/<name> --out models/<bundle>`: a distillation run's few-step student as a model bundle
// (src/pipeline/manifest.ts) that the Generate tab and `npm run generate` load. The student's denoiser is exported
// to ONNX from generator.safetensors (its parameters have the teacher's names and shapes; the architecture comes
// from the teacher bundle's checkpoints.denoiser.config) and its weights are copied (the playground starts from
// them). For shapes, the text encoder (ONNX, checkpoint, tokenizer) is the teacher's, frozen during distillation:
// copied after checking each file's sha256 against the teacher's manifest.
//
// The student runs only at the step counts it was distilled for: steps.schedule 'anchors', the run's anchors per
// count, the largest count by default. Guidance is distilled in, so guidance.default is 1 (one denoiser row per
// image, no empty-caption pass); the pipeline's sampler for an 'anchors' schedule is x0-renoise.
//
// The run folder, as `npm run distill` writes it:
//   config.json            {task, mixture (toy2d), teacher (a bundle folder), anchors {"1": [1], ...}, shift,
//                           arm, seed, iterations, wallSeconds, adapter, command, distill {hyper-parameters}}
//   generator.safetensors  the student's weights
//   eval.json              optional: the run's own last evaluation (the distiller's, on its fixed evaluation
//                          captions), kept as the manifest's metrics.runEvaluation when it is of the exported
//                          iteration (config.json iterations); the bundle's own figures come from `npm run eval`
// Before writing, the exported ONNX is run on ORT's wasm EP against the engine's forward on fixed inputs
// (metrics.onnxMaxAbsDiff); a difference over 1e-3 refuses the bundle (--no-verify skips the check).
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { MIXTURES } from '../data/toy2d';
import type { NodeAdapterKind } from '../gpu/node';
import { ShapesDiT } from '../nets/dit';
import { TextEncoder } from '../nets/textEncoder';
import { Toy2DTeacher } from '../nets/toy2d';
import type { Engine } from '../nn/engine';
import { exportShapesDiT, exportToy2DTeacher } from '../onnx/exportNets';
import { shapesParity, toy2dParity } from '../onnx/exportParity';
import { type FieldReader, fieldReader } from '../pipeline/bundleFields';
import { writeBundle } from '../pipeline/bundleWrite';
import { type StudentBundleInput, studentDraft, studentFiles } from '../pipeline/studentBundle';
import { type JsonValue, MANIFEST_FILE, type Manifest, type Metrics, type Provenance, sha256Hex } from '../pipeline/manifest';
import { bundleCommand, checkParity, gitCommit, loadCheckpoint, loadOrt, readBundleManifest, readRunFile, readRunJson, roundLevel } from './bundleParts';
import { adapterFlag, UsageError } from './options';

export const EXPORT_USAGE = `usage: npm run export -- RUN_DIR --out BUNDLE_DIR [--name NAME] [--adapter llvmpipe|swiftshader|default] [--no-verify]`;

export interface ExportOptions {
  run: string;
  out: string;
  name: string;
  adapter: NodeAdapterKind;
  verify: boolean;
  /** The command line, for provenance. */
  argv: readonly string[];
}

export function parseExportOptions(argv: readonly string[]): ExportOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        out: { type: 'string' },
        name: { type: 'string' },
        adapter: { type: 'string', default: 'llvmpipe' },
        'no-verify': { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'the run folder is required (runs/<name>)' : `one run folder at a time, got ${positionals.join(', ')}`);
  if (!values.out) throw new UsageError('--out is required');
  return { run: positionals[0]!, out: values.out, name: values.name ?? basename(values.out), adapter: adapterFlag(values.adapter!), verify: !values['no-verify'], argv };
}

// ---- the run folder ----

export const DISTILL_TASKS = ['shapes', 'toy2d'] as const;

/** config.json of a distillation run: the fields the export reads (others are left alone). */
export interface DistillRunConfig {
  task: (typeof DISTILL_TASKS)[number];
  mixture?: keyof typeof MIXTURES;
  /** The teacher bundle's folder. */
  teacher: string;
  /** The noise levels the student starts its steps from, per step count (already shifted). */
  anchors: Record<string, number[]>;
  shift: number;
  arm?: string;
  seed?: number;
  iterations?: number;
  wallSeconds?: number;
  adapter?: string;
  command?: string;
  commit?: string;
  distill: { [key: string]: JsonValue };
}

const runHint = (run: string) => `is ${run} a \`npm run distill\` output folder?`;

function readAnchors(r: FieldReader): Record<string, number[]> {
  const anchors: Record<string, number[]> = {};
  for (const count of r.ownKeys()) {
    const n = Number(count);
    if (!Number.isInteger(n) || n < 1 || String(n) !== count) r.fail(count, 'is not a step count (keys are integers >= 1)');
    const levels = r.numbers(count);
    if (levels.length !== n) r.fail(count, `has ${levels.length} noise levels for ${n} steps`);
    levels.forEach((s, i) => {
      if (!(s > 0 && s <= 1)) r.fail(`${count}[${i}]`, `is ${s}, outside (0, 1]`);
      if (i > 0 && !(s < levels[i - 1]!)) r.fail(`${count}[${i}]`, `is ${s}; the levels must decrease (previous ${levels[i - 1]})`);
    });
    anchors[count] = levels.map(roundLevel);
  }
  if (Object.keys(anchors).length === 0) r.fail('', 'lists no step count');
  return anchors;
}

export function readDistillConfig(run: string): DistillRunConfig {
  const file = join(run, 'config.json');
  const json = readRunJson(run, 'config.json', runHint(run));
  const r = fieldReader(json, (field, detail) => new Error(`${file}: ${field ? `${field} ` : ''}${detail}`));
  const config: DistillRunConfig = {
    task: r.oneOf('task', DISTILL_TASKS),
    teacher: r.string('teacher'),
    anchors: readAnchors(r.object('anchors')),
    shift: r.number('shift', { min: 0, exclusiveMin: true }),
    distill: r.object('distill').json() as DistillRunConfig['distill'],
  };
  if (config.task === 'toy2d') config.mixture = r.oneOf('mixture', Object.keys(MIXTURES) as (keyof typeof MIXTURES)[]);
  for (const key of ['seed', 'iterations'] as const) {
    const v = r.optional(key, (o, k) => o.integer(k, { min: 0 }));
    if (v !== undefined) config[key] = v;
  }
  const wallSeconds = r.optional('wallSeconds', (o, k) => o.number(k, { min: 0 }));
  if (wallSeconds !== undefined) config.wallSeconds = wallSeconds;
  for (const key of ['arm', 'adapter', 'command', 'commit'] as const) {
    const v = r.optional(key, (o, k) => o.string(k));
    if (v !== undefined) config[key] = v;
  }
  return config;
}

// ---- the teacher bundle ----

interface Teacher {
  dir: string;
  manifest: Manifest;
  /** The sha256 of its denoiser ONNX, which names it in the student's provenance. */
  denoiserSha256: string;
}

function openTeacher(config: DistillRunConfig, run: string, architecture: string): Teacher {
  const dir = config.teacher;
  const manifestPath = join(dir, MANIFEST_FILE);
  if (!existsSync(manifestPath)) {
    throw new Error(`${join(run, 'config.json')}: teacher is "${dir}", but ${manifestPath} is missing: run the export from the folder the distillation ran in (paths are relative to it), or put the teacher bundle there`);
  }
  const manifest = readBundleManifest(dir);
  if (manifest.architecture !== architecture || manifest.kind !== 'flow') {
    throw new Error(`${manifestPath}: a ${config.task} student needs a flow teacher of architecture ${architecture}, but this is a ${manifest.kind} ${manifest.architecture ?? '(no architecture)'}; check teacher in ${join(run, 'config.json')}`);
  }
  if (!manifest.checkpoints?.denoiser) throw new Error(`${manifestPath}: checkpoints.denoiser is missing, so the student's architecture is unknown; use a teacher bundle written by \`npm run bundle\``);
  const denoiser = manifest.files.find((f) => f.path === manifest.denoiser.onnx)!;
  return { dir, manifest, denoiserSha256: denoiser.sha256 };
}

/** A file of the teacher bundle, refused unless its sha256 is the one the teacher's manifest lists. */
async function teacherFile(teacher: Teacher, path: string): Promise<Uint8Array> {
  const full = join(teacher.dir, path);
  const listed = join(teacher.dir, MANIFEST_FILE);
  const entry = teacher.manifest.files.find((f) => f.path === path);
  if (!entry) throw new Error(`${listed}: files does not list "${path}"`);
  if (!existsSync(full)) throw new Error(`${full} is missing (listed in ${listed}): the teacher bundle is incomplete; restore it before exporting`);
  const bytes = new Uint8Array(readFileSync(full));
  const sha256 = await sha256Hex(bytes);
  if (sha256 !== entry.sha256) {
    throw new Error(`${full}: sha256 ${sha256} differs from the ${entry.sha256} that ${listed} lists: the teacher bundle changed after it was written, so it is not what the student was distilled with; restore it before exporting`);
  }
  return bytes;
}

// ---- the student's bundle (pipeline/studentBundle.ts, shared with the Distill tab) ----

function studentInput(options: ExportOptions, config: DistillRunConfig, teacher: Teacher, files: ReadonlyMap<string, Uint8Array>, onnx: Uint8Array, weights: Uint8Array, metrics: Metrics): StudentBundleInput {
  const provenance: Provenance = {
    command: `npm run export -- ${options.argv.join(' ')}`,
    commit: config.commit ?? gitCommit(),
    date: new Date().toISOString(),
    source: `distilled from ${teacher.manifest.name} (${teacher.manifest.denoiser.onnx} sha256 ${teacher.denoiserSha256}) in ${options.run}`,
  };
  if (config.seed !== undefined) provenance.seed = config.seed;
  if (config.iterations !== undefined) provenance.steps = config.iterations;
  if (config.wallSeconds !== undefined) provenance.wallSeconds = config.wallSeconds;
  if (config.adapter !== undefined) provenance.adapter = config.adapter;
  // provenance.training is the training command (a string); the hyper-parameters, an object, sit in the metrics.
  if (config.command !== undefined) provenance.training = config.command;
  return {
    name: options.name,
    teacher: { manifest: teacher.manifest, files, denoiserSha256: teacher.denoiserSha256 },
    denoiserOnnx: onnx,
    denoiserWeights: weights,
    anchors: config.anchors,
    shift: config.shift,
    provenance,
    metrics,
    distillation: { ...(config.arm !== undefined ? { arm: config.arm } : {}), ...config.distill },
  };
}

async function writeStudent(out: string, input: StudentBundleInput): Promise<Manifest> {
  return writeBundle(out, studentDraft(input), await studentFiles(input));
}

/**
 * The run's last evaluation (eval.json) as `runEvaluation`, when it measured the generator being exported: a run
 * stopped between two evaluations has a newer generator than its eval.json, whose numbers are then left out (measure
 * the bundle with `npm run eval`). An eval.json without an iteration is taken as it is. It sits under its own key, not
 * among the bundle's metrics, because it is the distiller's figure (few captions, FD against few real renders), not
 * the bundle's measurement (`onnxEvaluation`, from `npm run eval`).
 */
function runMetrics(run: string, config: DistillRunConfig): Metrics {
  if (!existsSync(join(run, 'eval.json'))) return {};
  const evaluation = readRunJson(run, 'eval.json', '') as { [key: string]: JsonValue };
  const measured = evaluation.iteration;
  if (typeof measured === 'number' && config.iterations !== undefined && measured !== config.iterations) {
    console.warn(
      `[export] ${join(run, 'eval.json')} measured iteration ${measured}, but the generator is of iteration ${config.iterations}: its metrics are left out of the manifest; measure the bundle with npm run eval`,
    );
    return {};
  }
  return { runEvaluation: evaluation };
}

const generatorFile = (run: string) => join(run, 'generator.safetensors');
const fitsTeacher = (teacher: Teacher) => `the architecture of the teacher ${teacher.dir} (${join(teacher.dir, MANIFEST_FILE)} checkpoints.denoiser.config), so it is not a student of that teacher`;

// ---- the bundles ----

export async function exportShapes(engine: Engine, options: ExportOptions, config: DistillRunConfig): Promise<Manifest> {
  const { run } = options;
  const weights = readRunFile(run, 'generator.safetensors', runHint(run));
  const teacher = openTeacher(config, run, 'ShapesDiT');
  const { textEncoder: textSpec, checkpoints } = teacher.manifest;
  if (!textSpec || !checkpoints?.textEncoder) throw new Error(`${join(teacher.dir, MANIFEST_FILE)}: textEncoder or checkpoints.textEncoder is missing; a shapes teacher bundle has both`);
  const textEncoder = new TextEncoder(engine, checkpoints.textEncoder.config);
  const denoiser = new ShapesDiT(engine, checkpoints.denoiser!.config);
  try {
    const denoiserModel = exportShapesDiT(denoiser, loadCheckpoint(denoiser, weights, generatorFile(run), fitsTeacher(teacher)));
    // The frozen text encoder, byte for byte the teacher's.
    const copied = [textSpec.onnx, ...(textSpec.externalData ?? []), checkpoints.textEncoder.path, ...teacher.manifest.files.map((f) => f.path).filter((p) => p.startsWith(`${textSpec.tokenizer}/`))];
    const teacherFiles = new Map<string, Uint8Array>();
    for (const path of copied) teacherFiles.set(path, await teacherFile(teacher, path));
    loadCheckpoint(textEncoder, teacherFiles.get(checkpoints.textEncoder.path)!, join(teacher.dir, checkpoints.textEncoder.path), `the text encoder of ${join(teacher.dir, MANIFEST_FILE)}`);

    const metrics = runMetrics(run, config);
    metrics.parameters = { textEncoder: textEncoder.parameterCount(), denoiser: denoiser.parameterCount() };
    if (options.verify) {
      const parity = await shapesParity(await loadOrt(), textEncoder, denoiser, teacherFiles.get(textSpec.onnx)!, denoiserModel);
      checkParity('text encoder', parity.textEncoder);
      checkParity('denoiser', parity.denoiser);
      metrics.onnxMaxAbsDiff = parity;
    }
    return await writeStudent(options.out, studentInput(options, config, teacher, teacherFiles, denoiserModel, weights, metrics));
  } finally {
    textEncoder.dispose();
    denoiser.dispose();
  }
}

export async function exportToy2d(engine: Engine, options: ExportOptions, config: DistillRunConfig): Promise<Manifest> {
  const { run } = options;
  const weights = readRunFile(run, 'generator.safetensors', runHint(run));
  const teacher = openTeacher(config, run, 'Toy2DTeacher');
  const mixture = MIXTURES[config.mixture!];
  const labels = teacher.manifest.labels ?? [];
  const expected = mixture.labels.map((l) => l.name);
  if (labels.join() !== expected.join()) {
    throw new Error(`${join(run, 'config.json')}: mixture is ${mixture.name}, but the teacher ${teacher.dir} has labels ${labels.join(', ')} (${mixture.name}: ${expected.join(', ')})`);
  }
  const net = new Toy2DTeacher(engine, teacher.manifest.checkpoints!.denoiser!.config);
  try {
    const model = exportToy2DTeacher(net, loadCheckpoint(net, weights, generatorFile(run), fitsTeacher(teacher)));
    const metrics = runMetrics(run, config);
    metrics.parameters = net.parameterCount();
    if (options.verify) {
      const diff = await toy2dParity(await loadOrt(), net, model);
      checkParity('toy student', diff);
      metrics.onnxMaxAbsDiff = diff;
    }
    return await writeStudent(options.out, studentInput(options, config, teacher, new Map(), model, weights, metrics));
  } finally {
    net.dispose();
  }
}

export async function exportRun(engine: Engine, options: ExportOptions): Promise<Manifest> {
  const config = readDistillConfig(options.run);
  return config.task === 'shapes' ? exportShapes(engine, options, config) : exportToy2d(engine, options, config);
}

export function main(argv: readonly string[]): Promise<number> {
  return bundleCommand('export', EXPORT_USAGE, argv, parseExportOptions, exportRun);
}
