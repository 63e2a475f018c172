// Pretraining the 2D toy teachers (docs/NETS.md): one Toy2DTeacher per mixture (RING and GRID have different
// label sets, and distillation runs on one mixture at a time), trained by flow matching with label dropout 0.1
// (to label 0, "any": the null label of CFG). Per step t of mixture m (all draws a function of (seed, t, m)):
//   label ~ uniform over the mixture's labels other than "any", x0 from that label's modes; label -> 0 w.p. 0.1
//   s ~ logit-normal(0, 1), eps ~ N(0, I);  loss = mean((v_theta(x_s, s, label) - (eps - x0))^2)
// Since every point's label is drawn first and the non-"any" labels cover each mode equally often, label 0's
// points follow the whole mixture: the unconditional model is learned from the same stream.
// Writes <out>/<mixture>/teacher.safetensors (EMA), config.json, loss.csv, eval.json, samples.png; checkpoints
// in <out>/<mixture>/checkpoint/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gaussian, mulberry32, pick } from '../data/random';
import { type GaussianMixture2D, GRID, modeCoverage, RING } from '../data/toy2d';
import { eulerSigmas } from '../flow/schedule';
import { cfgCombine, flowMatchingLoss, noiseTo, sampleEuler } from '../flow/tensors';
import { logitNormalSigmas } from '../flow/timesteps';
import { type Toy2DConfig, Toy2DTeacher } from '../nets/toy2d';
import type { Engine } from '../nn/engine';
import { AdamW } from '../nn/optim';
import { cloneParameters } from '../nn/params';
import { saveModule } from '../nn/safetensors';
import { concat, slice } from '../nn/ops/shape';
import { fromArray, noGrad, tidy } from '../nn/tensor';
import { adapterLabel } from './engine';
import { checkSameRun, readCheckpointState, restoreCheckpoint } from './checkpoint';
import { writeScatter } from './imageGrid';
import { checkpointSpacing, type PretrainOptions } from './options';
import { formatDuration, streamSeed, trainLoop } from './trainLoop';

// A cosine decay: at a constant 1e-3 the GRID teacher (6,000 steps) smeared each row's five modes into a line.
export const TOY2D_TRAINING = { batch: 512, lr: 1e-3, warmupSteps: 100, emaDecay: 0.999, decay: 'cosine', labelDropout: 0.1 } as const;

export const TOY2D_MIXTURES: readonly GaussianMixture2D[] = [RING, GRID];

/**
 * The network per mixture. RING: a plain MLP of width 128. GRID: 25 modes 20 std apart need a velocity field that
 * turns sharply between neighbouring modes at low noise, and an MLP on raw coordinates learns such a field slowly
 * (spectral bias): width 128 left 60% of its samples between modes after 12,000 steps, width 256 still 53%. Sinusoidal
 * features of each coordinate (16 per axis, angular frequencies 16 down to about 0.5) brought that to 6-7% in 8,000
 * steps (width 256 or 128) and 3.6-5.2% in the bundled teacher's 12,000 (docs/ARCHITECTURE.md, "The bundled models").
 */
export const TOY2D_NETS: Readonly<Record<GaussianMixture2D['name'], Omit<Toy2DConfig, 'labels' | 'embeddingDim'>>> = {
  ring: { hidden: 128 },
  grid: { hidden: 256, coordinateFeatures: 16, coordinateScale: 16, coordinatePeriod: 32 },
};

/** A training batch of mixture points with labels (host arrays), drawn from `seed`. */
export function toyBatch(mixture: GaussianMixture2D, batch: number, seed: number) {
  const random = mulberry32(seed);
  const x0 = new Float32Array(batch * 2);
  const labels = new Uint32Array(batch);
  for (let i = 0; i < batch; i++) {
    const label = 1 + Math.floor(random() * (mixture.labels.length - 1));
    const mode = pick(random, mixture.labels[label]!.modes);
    x0[2 * i] = mixture.means[2 * mode]! + mixture.std * gaussian(random);
    x0[2 * i + 1] = mixture.means[2 * mode + 1]! + mixture.std * gaussian(random);
    labels[i] = random() < TOY2D_TRAINING.labelDropout ? 0 : label;
  }
  const sigmas = logitNormalSigmas(batch, random);
  const eps = Float32Array.from({ length: batch * 2 }, () => gaussian(random));
  return { x0, labels, sigmas, eps };
}

/** n points from the teacher for one label: Euler over eulerSigmas(steps), guidance w against label 0. */
export async function sampleToy(model: Toy2DTeacher, label: number, n: number, options: { guidance: number; steps: number; seed: number }): Promise<Float32Array> {
  const engine = model.engine;
  const random = mulberry32(options.seed);
  const noise = Float32Array.from({ length: n * 2 }, () => gaussian(random));
  const points = noGrad(engine, () =>
    tidy(engine, () => {
      const labels = fromArray(engine, [2 * n], [...new Array<number>(n).fill(label), ...new Array<number>(n).fill(0)], 'u32', 'label');
      return sampleEuler(
        (x, s) => {
          const sigma = fromArray(engine, [2 * n], new Float32Array(2 * n).fill(s), 'f32', 'sigma');
          const v = model.forward(concat([x, x], 0), sigma, labels);
          return cfgCombine(slice(v, 0, n, 2 * n), slice(v, 0, 0, n), options.guidance);
        },
        fromArray(engine, [n, 2], noise, 'f32', 'x1'),
        eulerSigmas(options.steps),
      );
    }),
  );
  const data = await points.read();
  points.dispose();
  return data;
}

export async function pretrainToy2d(engine: Engine, options: PretrainOptions): Promise<Map<string, Toy2DTeacher>> {
  const batch = options.batch ?? TOY2D_TRAINING.batch;
  const teachers = new Map<string, Toy2DTeacher>();
  for (const [index, mixture] of TOY2D_MIXTURES.entries()) {
    if (options.mixture && options.mixture !== mixture.name) continue;
    const out = join(options.out, mixture.name);
    mkdirSync(out, { recursive: true });
    const config = { labels: mixture.labels.length, ...TOY2D_NETS[mixture.name] };
    const seed = options.seed;
    const model = new Toy2DTeacher(engine, config, seed * 16 + index);
    const ema = new Toy2DTeacher(engine, config, seed * 16 + index);
    cloneParameters(model, ema);
    const optimizer = new AdamW(engine, model, { lr: options.lr ?? TOY2D_TRAINING.lr, weightDecay: 0 });
    const run = { model, ema, optimizer };
    const training = { ...TOY2D_TRAINING, lr: options.lr ?? TOY2D_TRAINING.lr, decay: options.lrDecay ?? TOY2D_TRAINING.decay };
    const identity = { mixture: mixture.name, seed, batch, config, training };
    let startStep = 0;
    if (options.resume && readCheckpointState(out)) {
      const saved = restoreCheckpoint(out, run);
      checkSameRun(saved, identity, ['mixture', 'seed', 'batch', 'config', 'training']);
      startStep = saved.step;
      console.log(`[toy2d ${mixture.name}] resumed from step ${startStep}`);
    }
    const name = `toy2d ${mixture.name}`;
    const summary =
      startStep >= options.steps
        ? null
        : await trainLoop(
            engine,
            run,
            { name, out, steps: options.steps, startStep, logEvery: options.logEvery * 10, checkpointEvery: checkpointSpacing(options), state: identity, ...training, decay: training.decay === 'cosine' ? 'cosine' : undefined },
            (step) => {
              const data = toyBatch(mixture, batch, streamSeed(seed, step, index));
              const x0 = fromArray(engine, [batch, 2], data.x0, 'f32', 'x0');
              const eps = fromArray(engine, [batch, 2], data.eps, 'f32', 'eps');
              const sigma = fromArray(engine, [batch], data.sigmas, 'f32', 'sigma');
              const label = fromArray(engine, [batch], data.labels, 'u32', 'label');
              return flowMatchingLoss(model.forward(noiseTo(x0, eps, sigma), sigma, label), x0, eps);
            },
          );
    optimizer.dispose();
    writeFileSync(join(out, 'teacher.safetensors'), await saveModule(ema, { format: 'pt' }));
    const provenance = {
      wallSeconds: summary ? Math.round(summary.wallSeconds) : undefined,
      adapter: adapterLabel(engine),
      command: `npm run pretrain -- toy2d ${options.argv?.join(' ') ?? ''}`.trim(),
    };
    writeFileSync(join(out, 'config.json'), `${JSON.stringify({ ...ema.config, training: { ...identity, steps: options.steps, ...provenance } }, null, 2)}\n`);
    const evaluation = await evaluateToy(ema, mixture, out);
    if (summary) console.log(`[${name}] done: ${summary.steps} steps in ${formatDuration(summary.seconds)}, final loss ${summary.finalLoss.toFixed(4)}, ${summary.skipped} skipped`);
    for (const e of evaluation) console.log(`[${name}] label ${e.label}: ${e.covered}/${e.modes} modes covered, ${(100 * e.wrongMode).toFixed(1)}% in other labels' modes, ${(100 * e.offMode).toFixed(1)}% off every mode`);
    model.dispose();
    teachers.set(mixture.name, ema);
  }
  return teachers;
}

/** Mode coverage of 1,000 teacher samples per label (50 Euler steps, guidance 1 = the conditional model alone). */
async function evaluateToy(model: Toy2DTeacher, mixture: GaussianMixture2D, out: string) {
  const results = [];
  const all: Float32Array[] = [];
  for (const [label, { name, modes }] of mixture.labels.entries()) {
    const points = await sampleToy(model, label, 1000, { guidance: 1, steps: 50, seed: 777 + label });
    all.push(points);
    const { covered, wrongMode, offMode } = modeCoverage(mixture, label, points, 10);
    results.push({ label: name, modes: modes.length, covered, wrongMode, offMode });
  }
  writeFileSync(join(out, 'eval.json'), `${JSON.stringify({ samplesPerLabel: 1000, eulerSteps: 50, guidance: 1, minimumPerMode: 10, results }, null, 2)}\n`);
  writeScatter(join(out, 'samples.png'), all, { extent: 3 });
  return results;
}
