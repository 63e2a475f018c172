// `npm run bundle -- --kind shapes-teacher|toy2d --run runs/<dir> --out models/<name>`: a pretraining run's
// weights as a model bundle (src/pipeline/manifest.ts): the nets exported to ONNX, the engine checkpoints
// copied (in-browser distillation starts from them), the tokenizer copied, and manifest.json with every
// file's size and sha256, how the model was made, and its measured metrics.
//
// Run folders, as the pretrain command writes them (src/cli/pretrainShapes.ts, pretrainToy2d.ts):
//   shapes-teacher  <run>/teacher.safetensors, text-encoder.safetensors, config.json {denoiser, textEncoder,
//                   training}, loss.csv, metrics.json (optional, merged into the metrics)
//   toy2d           <run> = <out>/<mixture>/: teacher.safetensors, config.json {labels, hidden, embeddingDim,
//                   training: {mixture, ...}}, loss.csv, eval.json (mode coverage)
// Before writing, the exported ONNX is run on ORT's wasm EP against the engine's forward on fixed inputs
// (metrics.onnxMaxAbsDiff); a difference over 1e-3 refuses the bundle (--no-verify skips the check).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { MIXTURES } from '../data/toy2d';
import { eulerSigmas } from '../flow/schedule';
import { ShapesDiT } from '../nets/dit';
import { TextEncoder } from '../nets/textEncoder';
import { Toy2DTeacher } from '../nets/toy2d';
import type { NodeAdapterKind } from '../gpu/node';
import type { Engine } from '../nn/engine';
import { exportShapesDiT, exportTextEncoder, exportToy2DTeacher, SHAPES_DIT_NAMES, TEXT_ENCODER_NAMES, TOY2D_NAMES } from '../onnx/exportNets';
import { shapesParity, toy2dParity } from '../onnx/exportParity';
import { FORMAT_VERSION } from '../pipeline/bundleFields';
import { type ManifestDraft, writeBundle } from '../pipeline/bundleWrite';
import type { JsonValue, Manifest, Metrics, Provenance } from '../pipeline/manifest';
import { bundleCommand, checkParity, gitCommit, loadCheckpoint, loadOrt, objectField, readRunFile, readRunJson, roundLevel } from './bundleParts';
import { adapterFlag, guidanceFlag, integerAtLeast, UsageError } from './options';

export const BUNDLE_KINDS = ['shapes-teacher', 'toy2d'] as const;
export type BundleKind = (typeof BUNDLE_KINDS)[number];

export const BUNDLE_USAGE = `usage: npm run bundle -- --kind ${BUNDLE_KINDS.join('|')} --run RUN_DIR --out BUNDLE_DIR
         [--name NAME] [--steps N (default 50)] [--guidance W] [--tokenizer DIR (default models/tokenizer)]
         [--adapter llvmpipe|swiftshader|default] [--no-verify]`;

export interface BundleOptions {
  kind: BundleKind;
  run: string;
  out: string;
  name: string;
  /** Euler steps a sampler uses by default. */
  steps: number;
  /** Default guidance weight (shapes 4, toy 1, unless given). */
  guidance?: number;
  tokenizer: string;
  adapter: NodeAdapterKind;
  verify: boolean;
  /** The command line, for provenance. */
  argv: readonly string[];
}

export function parseBundleOptions(argv: readonly string[]): BundleOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        kind: { type: 'string' },
        run: { type: 'string' },
        out: { type: 'string' },
        name: { type: 'string' },
        steps: { type: 'string', default: '50' },
        guidance: { type: 'string' },
        tokenizer: { type: 'string', default: 'models/tokenizer' },
        adapter: { type: 'string', default: 'llvmpipe' },
        'no-verify': { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const kind = values.kind;
  if (!kind || !(BUNDLE_KINDS as readonly string[]).includes(kind)) throw new UsageError(`--kind must be one of ${BUNDLE_KINDS.join(', ')}, got ${JSON.stringify(kind ?? '')}`);
  if (!values.run) throw new UsageError('--run is required');
  if (!values.out) throw new UsageError('--out is required');
  const adapter = adapterFlag(values.adapter!);
  const steps = integerAtLeast(values.steps!, 'steps', 1)!;
  const options: BundleOptions = {
    kind: kind as BundleKind,
    run: values.run,
    out: values.out,
    name: values.name ?? basename(values.out),
    steps,
    tokenizer: values.tokenizer!,
    adapter,
    verify: !values['no-verify'],
    argv,
  };
  const guidance = guidanceFlag(values.guidance);
  if (guidance !== undefined) options.guidance = guidance;
  return options;
}

// ---- the run folder ----

/** Mean of the last 100 finite losses of loss.csv (step,loss,lr), if the run has one. */
function finalLoss(run: string): number | undefined {
  const path = join(run, 'loss.csv');
  if (!existsSync(path)) return undefined;
  const losses = readFileSync(path, 'utf8').split('\n').slice(1).map((line) => Number(line.split(',')[1])).filter(Number.isFinite);
  const tail = losses.slice(-100);
  return tail.length > 0 ? tail.reduce((a, b) => a + b, 0) / tail.length : undefined;
}

function provenance(options: BundleOptions, training: Record<string, unknown>): Provenance {
  const p: Provenance = {
    command: `npm run bundle -- ${options.argv.join(' ')}`,
    commit: typeof training.commit === 'string' ? training.commit : gitCommit(),
    date: new Date().toISOString(),
    source: options.run,
  };
  for (const key of ['seed', 'steps'] as const) if (Number.isSafeInteger(training[key])) p[key] = training[key] as number;
  if (typeof training.wallSeconds === 'number') p.wallSeconds = training.wallSeconds;
  if (typeof training.adapter === 'string') p.adapter = training.adapter;
  if (typeof training.command === 'string') p.training = training.command;
  return p;
}

function runMetrics(run: string): Metrics {
  const metrics: Metrics = {};
  const loss = finalLoss(run);
  if (loss !== undefined) metrics.finalLoss = loss;
  if (existsSync(join(run, 'metrics.json'))) Object.assign(metrics, readRunJson(run, 'metrics.json', ''));
  return metrics;
}

/** The teacher's default Euler grid, 1 - i/n for i < n, written as 0.82 rather than 0.8200000000000001. */
function eulerGrid(steps: number): ManifestDraft['steps'] {
  const sigmas = eulerSigmas(steps).slice(0, -1).map(roundLevel);
  return { default: steps, schedule: 'euler-grid', sigmas: { [String(steps)]: sigmas } };
}

// ---- the bundles ----

export async function bundleShapesTeacher(engine: Engine, options: BundleOptions): Promise<Manifest> {
  const { run } = options;
  const hint = `is ${run} a \`npm run pretrain -- shapes\` output folder?`;
  const config = readRunJson(run, 'config.json', hint);
  const configFile = join(run, 'config.json');
  const training = objectField(config, 'training', configFile);
  const textEncoder = new TextEncoder(engine, objectField(config, 'textEncoder', configFile));
  const denoiser = new ShapesDiT(engine, objectField(config, 'denoiser', configFile));
  try {
    const textWeights = readRunFile(run, 'text-encoder.safetensors', hint);
    const denoiserWeights = readRunFile(run, 'teacher.safetensors', hint);
    const textModel = exportTextEncoder(textEncoder, loadCheckpoint(textEncoder, textWeights, join(run, 'text-encoder.safetensors')));
    const denoiserModel = exportShapesDiT(denoiser, loadCheckpoint(denoiser, denoiserWeights, join(run, 'teacher.safetensors')));

    const files = new Map<string, Uint8Array>([
      ['text_encoder.onnx', textModel],
      ['denoiser.onnx', denoiserModel],
      ['text_encoder.safetensors', textWeights],
      ['denoiser.safetensors', denoiserWeights],
    ]);
    for (const name of readdirSync(options.tokenizer).sort()) {
      const path = join(options.tokenizer, name);
      if (statSync(path).isFile()) files.set(`tokenizer/${name}`, new Uint8Array(readFileSync(path)));
    }
    const tokenizerConfigBytes = files.get('tokenizer/tokenizer_config.json');
    if (!tokenizerConfigBytes) throw new Error(`${options.tokenizer} has no tokenizer_config.json: is it a Hugging Face tokenizer folder?`);
    const tokenizerConfig = JSON.parse(new TextDecoder().decode(tokenizerConfigBytes)) as { model_max_length?: number };
    if (tokenizerConfig.model_max_length !== textEncoder.config.maxLength) {
      throw new Error(`${join(options.tokenizer, 'tokenizer_config.json')}: model_max_length ${tokenizerConfig.model_max_length} differs from the text encoder's ${textEncoder.config.maxLength} positions`);
    }

    const metrics = runMetrics(run);
    metrics.parameters = { textEncoder: textEncoder.parameterCount(), denoiser: denoiser.parameterCount() };
    if (options.verify) {
      const parity = await shapesParity(await loadOrt(), textEncoder, denoiser, textModel, denoiserModel);
      checkParity('text encoder', parity.textEncoder);
      checkParity('denoiser', parity.denoiser);
      metrics.onnxMaxAbsDiff = parity;
    }
    const { channels, imageSize } = denoiser.config;
    const draft: ManifestDraft = {
      formatVersion: FORMAT_VERSION,
      name: options.name,
      description: 'Shapes-32 teacher: a DiT over 4x4 patches with a small text encoder, trained by flow matching (docs/NETS.md)',
      architecture: 'ShapesDiT',
      kind: 'flow',
      conditioning: 'text',
      resolution: { width: imageSize, height: imageSize },
      space: { type: 'pixel', channels },
      steps: eulerGrid(options.steps),
      shift: 1,
      guidance: { default: options.guidance ?? 4 },
      textEncoder: {
        tokenizer: 'tokenizer',
        onnx: 'text_encoder.onnx',
        maxLength: textEncoder.config.maxLength,
        hiddenSize: textEncoder.config.dim,
        inputs: { ...TEXT_ENCODER_NAMES.inputs },
        outputs: { ...TEXT_ENCODER_NAMES.outputs },
      },
      denoiser: { onnx: 'denoiser.onnx', inputs: { ...SHAPES_DIT_NAMES.inputs }, outputs: { prediction: SHAPES_DIT_NAMES.outputs.velocity } },
      checkpoints: {
        textEncoder: { path: 'text_encoder.safetensors', config: { ...textEncoder.config } },
        denoiser: { path: 'denoiser.safetensors', config: { ...denoiser.config } },
      },
      provenance: provenance(options, training),
      metrics,
    };
    return await writeBundle(options.out, draft, files);
  } finally {
    textEncoder.dispose();
    denoiser.dispose();
  }
}

export async function bundleToy2d(engine: Engine, options: BundleOptions): Promise<Manifest> {
  const { run } = options;
  if (!existsSync(join(run, 'config.json'))) {
    const mixtures = Object.keys(MIXTURES).filter((name) => existsSync(join(run, name, 'config.json')));
    if (mixtures.length > 0) throw new Error(`${run} holds one teacher per mixture: pass --run ${mixtures.map((m) => join(run, m)).join(' or --run ')}`);
  }
  const hint = `is ${run} a mixture folder of a \`npm run pretrain -- toy2d\` run (<out>/ring or <out>/grid)?`;
  const config = readRunJson(run, 'config.json', hint);
  const training = objectField(config, 'training', join(run, 'config.json'));
  const mixture = MIXTURES[training.mixture as keyof typeof MIXTURES];
  if (!mixture) throw new Error(`${join(run, 'config.json')}: training.mixture is ${JSON.stringify(training.mixture)}, expected one of ${Object.keys(MIXTURES).join(', ')}`);
  const { training: _, ...netConfig } = config;
  const net = new Toy2DTeacher(engine, netConfig);
  try {
    if (net.config.labels !== mixture.labels.length) throw new Error(`${join(run, 'config.json')}: labels is ${net.config.labels}, but ${mixture.name} has ${mixture.labels.length}`);
    const weights = readRunFile(run, 'teacher.safetensors', hint);
    const model = exportToy2DTeacher(net, loadCheckpoint(net, weights, join(run, 'teacher.safetensors')));
    const metrics = runMetrics(run);
    metrics.parameters = net.parameterCount();
    if (existsSync(join(run, 'eval.json'))) metrics.modeCoverage = readRunJson(run, 'eval.json', '') as { [key: string]: JsonValue };
    if (options.verify) {
      const diff = await toy2dParity(await loadOrt(), net, model);
      checkParity('toy teacher', diff);
      metrics.onnxMaxAbsDiff = diff;
    }
    const draft: ManifestDraft = {
      formatVersion: FORMAT_VERSION,
      name: options.name,
      description: `2D toy teacher of the ${mixture.name} mixture: an MLP velocity field conditioned on the mixture label (docs/NETS.md)`,
      architecture: 'Toy2DTeacher',
      kind: 'flow',
      conditioning: 'label',
      space: { type: 'points', dims: 2 },
      steps: eulerGrid(options.steps),
      shift: 1,
      guidance: { default: options.guidance ?? 1 },
      labels: mixture.labels.map((l) => l.name),
      denoiser: { onnx: 'denoiser.onnx', inputs: { ...TOY2D_NAMES.inputs }, outputs: { prediction: TOY2D_NAMES.outputs.velocity } },
      checkpoints: { denoiser: { path: 'denoiser.safetensors', config: { ...net.config } } },
      provenance: provenance(options, training),
      metrics,
    };
    return await writeBundle(
      options.out,
      draft,
      new Map([
        ['denoiser.onnx', model],
        ['denoiser.safetensors', weights],
      ]),
    );
  } finally {
    net.dispose();
  }
}

export function bundleRun(engine: Engine, options: BundleOptions): Promise<Manifest> {
  return options.kind === 'shapes-teacher' ? bundleShapesTeacher(engine, options) : bundleToy2d(engine, options);
}

export function main(argv: readonly string[]): Promise<number> {
  return bundleCommand('bundle', BUNDLE_USAGE, argv, parseBundleOptions, bundleRun);
}
