// The 2D toy as a distillation task: the Toy2DTeacher MLP of one mixture (ring or grid), conditioned on the mixture's
// labels (0 = "any", the null label of classifier-free guidance). Each iteration draws labels uniformly over all
// labels ("any" included) and real points from each label's modes. The GAN term's frozen feature network is a copy of
// the teacher read as a clean-point encoder: its hidden layers at sigma = 0 under the null label; the projection
// term gets the label through the copy's label embedding.
import { gaussian, mulberry32, pick } from '../data/random';
import type { GaussianMixture2D } from '../data/toy2d';
import { cfgCombine } from '../flow/tensors';
import { Toy2DTeacher } from '../nets/toy2d';
import { concat, slice } from '../nn/ops/shape';
import { cloneParameters } from '../nn/params';
import { fromArray, type Tensor } from '../nn/tensor';
import type { AdversarialFeatures, DistillTask } from './task';

export type ToyCondition = {
  /** u32 [B]: the labels. */
  label: Tensor;
  /** u32 [2B]: the labels, then as many null labels (the teacher's guided batch). */
  guidedLabel: Tensor;
};

/** Labels and real points of an iteration (host arrays), a function of the seed. */
export function toyExamples(mixture: GaussianMixture2D, size: number, seed: number): { labels: Uint32Array; points: Float32Array } {
  const random = mulberry32(seed);
  const labels = new Uint32Array(size);
  const points = new Float32Array(size * 2);
  for (let i = 0; i < size; i++) {
    const label = Math.min(mixture.labels.length - 1, Math.floor(random() * mixture.labels.length));
    const mode = pick(random, mixture.labels[label]!.modes);
    labels[i] = label;
    points[2 * i] = mixture.means[2 * mode]! + mixture.std * gaussian(random);
    points[2 * i + 1] = mixture.means[2 * mode + 1]! + mixture.std * gaussian(random);
  }
  return { labels, points };
}

/** The condition tensors for host labels. */
export function toyCondition(teacher: Toy2DTeacher, labels: Uint32Array): ToyCondition {
  const engine = teacher.engine;
  const guided = new Uint32Array(2 * labels.length);
  guided.set(labels);
  return { label: fromArray(engine, [labels.length], labels, 'u32', 'label'), guidedLabel: fromArray(engine, [guided.length], guided, 'u32', 'guided_label') };
}

/** The GAN term's features on the toy: a frozen copy of the teacher at sigma = 0 under the null label. */
function toyAdversarial(teacher: Toy2DTeacher, released: () => void): AdversarialFeatures<ToyCondition> {
  const engine = teacher.engine;
  const network = new Toy2DTeacher(engine, teacher.config);
  cloneParameters(teacher, network);
  return {
    network,
    features(x) {
      const n = x.shape[0]!;
      return network.layerFeatures(x, fromArray(engine, [n], new Float32Array(n), 'f32', 'gan.sigma'), fromArray(engine, [n], new Uint32Array(n), 'u32', 'gan.label'));
    },
    featureDim: teacher.config.hidden,
    layers: 2,
    text: (condition) => network.labelEmbedding.forward(condition.label),
    textDim: teacher.config.embeddingDim,
    release() {
      network.dispose();
      released();
    },
  };
}

export function toyTask(teacher: Toy2DTeacher, mixture: GaussianMixture2D): DistillTask<Toy2DTeacher, ToyCondition> {
  if (teacher.config.labels !== mixture.labels.length) {
    throw new Error(`the toy teacher has ${teacher.config.labels} labels, the ${mixture.name} mixture ${mixture.labels.length}: load the teacher of this mixture`);
  }
  let adversarial: AdversarialFeatures<ToyCondition> | undefined;
  return {
    name: `toy2d-${mixture.name}`,
    sampleShape: [2],
    teacher,
    createNetwork() {
      const net = new Toy2DTeacher(teacher.engine, teacher.config);
      cloneParameters(teacher, net);
      return net;
    },
    velocity: (net, x, sigma, condition) => net.forward(x, sigma, condition.label),
    guidedVelocity(x, sigma, condition, guidance) {
      if (guidance === 1) return teacher.forward(x, sigma, condition.label);
      const n = x.shape[0]!;
      const v = teacher.forward(concat([x, x], 0), concat([sigma, sigma], 0), condition.guidedLabel);
      return cfgCombine(slice(v, 0, n, 2 * n), slice(v, 0, 0, n), guidance);
    },
    /** Made on first use (only a run with the GAN term reads it), so other runs hold no copy of the teacher. */
    get adversarial() {
      return (adversarial ??= toyAdversarial(teacher, () => (adversarial = undefined)));
    },
    batch(seed, size) {
      const { labels, points } = toyExamples(mixture, size, seed);
      return { condition: toyCondition(teacher, labels), x0: fromArray(teacher.engine, [size, 2], points, 'f32', 'x0') };
    },
  };
}
