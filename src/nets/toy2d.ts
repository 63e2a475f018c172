// The 2D toy teacher (docs/NETS.md): an MLP on concat(sample, sinusoidal features of sigma, label embedding)
// predicting the flow-matching velocity v = eps - x0 of a labelled Gaussian mixture (data/toy2d.ts).
//   sample [B, 2], sigma [B], label u32 [B] (0 = "any", the null label for CFG) -> velocity [B, 2]
import type { Engine } from '../nn/engine';
import { Module } from '../nn/module';
import { Linear } from '../nn/modules/basic';
import { concat, slice } from '../nn/ops/shape';
import { reshapeView } from '../nn/ops/view';
import { timestepEmbedding } from '../nn/ops/timestep';
import type { Tensor } from '../nn/tensor';
import { Embedding, ModuleList } from './textEncoder';

export interface Toy2DConfig {
  /** Labels of the mixture, "any" included (RING: 5, GRID: 11). */
  labels: number;
  hidden: number;
  /** Width of the sigma features and of the label embedding. */
  embeddingDim: number;
  /**
   * Sinusoidal features of each coordinate (0: none, the sample enters as it is): timestepEmbedding(x, dim, {scale,
   * maxPeriod}) of x and of y, concatenated after the sample. An MLP on raw coordinates learns sharp fields slowly
   * (spectral bias); the grid's velocity at low noise turns around every 1 unit.
   */
  coordinateFeatures?: number;
  /** Highest angular frequency of the coordinate features; the lowest is about coordinateScale / coordinatePeriod. */
  coordinateScale?: number;
  coordinatePeriod?: number;
}

export const TOY2D_CONFIG: Readonly<Toy2DConfig> = { labels: 5, hidden: 128, embeddingDim: 64 };

/** Input width of the first layer. */
export const toyInputWidth = (c: Toy2DConfig): number => 2 + 2 * (c.coordinateFeatures ?? 0) + 2 * c.embeddingDim;

export class Toy2DTeacher extends Module {
  readonly config: Readonly<Toy2DConfig>;
  readonly labelEmbedding: Embedding;
  /** `mlp.layers.0` (2 + 2 * embeddingDim -> hidden, SiLU), `mlp.layers.1` (hidden -> hidden, SiLU), `mlp.layers.2` (hidden -> 2). */
  readonly layers: Linear[];

  constructor(engine: Engine, config: Partial<Toy2DConfig> = {}, seed = 0) {
    super(engine);
    const c = (this.config = { ...TOY2D_CONFIG, ...config });
    if (!Number.isInteger(c.labels) || c.labels < 1) throw new Error(`Toy2DTeacher: labels must be an integer >= 1, got ${c.labels}`);
    const features = c.coordinateFeatures ?? 0;
    if (!Number.isInteger(features) || features < 0) throw new Error(`Toy2DTeacher: coordinateFeatures must be an integer >= 0, got ${features}`);
    if (features > 0 && !(c.coordinateScale! > 0 && c.coordinatePeriod! > 0)) {
      throw new Error(`Toy2DTeacher: coordinateFeatures needs a positive coordinateScale and coordinatePeriod, got ${c.coordinateScale} and ${c.coordinatePeriod}`);
    }
    const base = seed * 1000;
    this.labelEmbedding = this.child('labelEmbedding', new Embedding(engine, c.labels, c.embeddingDim, base + 1));
    const mlp = this.child('mlp', new Toy2DMlp(engine));
    const layers = mlp.layers;
    const widths = [toyInputWidth(c), c.hidden, c.hidden, 2];
    this.layers = widths.slice(1).map((out, i) => layers.add(i, new Linear(engine, widths[i]!, out, { seed: base + 10 * (i + 1) })));
  }

  forward(sample: Tensor, sigma: Tensor, label: Tensor): Tensor {
    return this.layers[2]!.forward(this.layerFeatures(sample, sigma, label)[1]);
  }

  /** The two hidden layers' activations [B, hidden] (after SiLU): the features the toy's GAN term reads. */
  layerFeatures(sample: Tensor, sigma: Tensor, label: Tensor): [Tensor, Tensor] {
    const batch = sample.shape[0]!;
    if (sample.dtype !== 'f32' || sample.rank !== 2 || sample.shape[1] !== 2) throw new Error(`Toy2DTeacher: sample must be f32 [batch, 2], got ${sample.dtype} ${sample.describe()}`);
    if (sigma.dtype !== 'f32' || sigma.rank !== 1 || sigma.shape[0] !== batch) throw new Error(`Toy2DTeacher: sigma must be f32 [${batch}], got ${sigma.dtype} ${sigma.describe()}`);
    if (label.dtype !== 'u32' || label.rank !== 1 || label.shape[0] !== batch) throw new Error(`Toy2DTeacher: label must be u32 [${batch}], got ${label.dtype} ${label.describe()}`);
    const c = this.config;
    const coordinates = c.coordinateFeatures
      ? [0, 1].map((axis) => timestepEmbedding(reshapeView(slice(sample, 1, axis, axis + 1), [batch]), c.coordinateFeatures!, { scale: c.coordinateScale, maxPeriod: c.coordinatePeriod }))
      : [];
    const features = concat([sample, ...coordinates, timestepEmbedding(sigma, c.embeddingDim), this.labelEmbedding.forward(label)], 1);
    const [first, second] = this.layers as [Linear, Linear, Linear];
    const h1 = first.forward(features, 'silu');
    return [h1, second.forward(h1, 'silu')];
  }
}

class Toy2DMlp extends Module {
  readonly layers: ModuleList;
  constructor(engine: Engine) {
    super(engine);
    this.layers = this.child('layers', new ModuleList(engine));
  }
}
