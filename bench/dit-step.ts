// One training step of a small DiT on our engine (forward, MSE loss, backward, AdamW), as the training
// loop runs it. Loaded by bench/kernels.ts with a dynamic import, so that a DiT that does not build yet
// turns into a TODO entry in the results instead of failing the whole kernels suite.
import type { Engine } from '../src/nn/engine';
import { randn } from '../src/nn/host';
import { Module } from '../src/nn/module';
import { LayerNorm, Linear } from '../src/nn/modules/basic';
import { DiTBlock, FinalLayer, TimestepEmbedder } from '../src/nn/modules/dit';
import { mseLoss } from '../src/nn/ops/loss';
import { AdamW } from '../src/nn/optim';
import { backward, fromArray, type Tensor, tidy } from '../src/nn/tensor';
import { type Timing, timeLoop } from './common';

/** The model's size: B*T = 256 tokens of width 128, so its linears are the [256 x 128] @ [128 x N] shapes of the kernel table. */
export const DIT_CONFIG = {
  batch: 2,
  tokens: 128,
  patchDim: 16,
  dim: 128,
  heads: 4,
  depth: 2,
  mlpRatio: 4,
  textTokens: 16,
  textDim: 64,
  frequencyDim: 64,
} as const;

class SmallDiT extends Module {
  readonly embed: Linear;
  readonly time: TimestepEmbedder;
  readonly context: LayerNorm;
  readonly blocks: DiTBlock[];
  readonly final: FinalLayer;

  constructor(engine: Engine) {
    super(engine);
    const c = DIT_CONFIG;
    this.embed = this.child('embed', new Linear(engine, c.patchDim, c.dim, { seed: 1 }));
    this.time = this.child('time', new TimestepEmbedder(engine, c.dim, c.frequencyDim, 2));
    this.context = this.child('contextNorm', new LayerNorm(engine, c.textDim));
    this.blocks = Array.from({ length: c.depth }, (_, i) =>
      this.child(`blocks.${i}`, new DiTBlock(engine, c.dim, c.heads, { contextDim: c.textDim, mlpRatio: c.mlpRatio, seed: 10 * i + 3 })),
    );
    this.final = this.child('final', new FinalLayer(engine, c.dim, c.patchDim));
  }

  forward(patches: Tensor, sigma: Tensor, text: Tensor, mask: Tensor): Tensor {
    let x = this.embed.forward(patches);
    const c = this.time.forward(sigma);
    const context = this.context.forward(text);
    for (const block of this.blocks) x = block.forward(x, c, context, mask);
    return this.final.forward(x, c);
  }
}

export interface DitStepResult {
  config: typeof DIT_CONFIG;
  parameters: number;
  timing: Timing;
  msPerStep: number;
  lossFirst: number;
  lossLast: number;
}

export async function measureDitStep(engine: Engine, opts: { budgetMs: number; maxIterations: number }): Promise<DitStepResult> {
  const c = DIT_CONFIG;
  const model = new SmallDiT(engine);
  const optimizer = new AdamW(engine, model, { lr: 1e-3, weightDecay: 0 });
  const mask = Array.from({ length: c.batch * c.textTokens }, (_, i) => (i % c.textTokens < c.textTokens - 3 * (i >= c.textTokens ? 1 : 0) ? 1 : 0));
  const inputs = {
    patches: fromArray(engine, [c.batch, c.tokens, c.patchDim], randn([c.batch, c.tokens, c.patchDim], 1).data, 'f32', 'patches'),
    sigma: fromArray(engine, [c.batch], [0.3, 0.8], 'f32', 'sigma'),
    text: fromArray(engine, [c.batch, c.textTokens, c.textDim], randn([c.batch, c.textTokens, c.textDim], 2).data, 'f32', 'text'),
    mask: fromArray(engine, [c.batch, c.textTokens], mask, 'f32', 'mask'),
    target: fromArray(engine, [c.batch, c.tokens, c.patchDim], randn([c.batch, c.tokens, c.patchDim], 3, 0.5).data, 'f32', 'target'),
  };
  let lastLoss: Tensor | null = null;
  const step = () => {
    const loss = tidy(engine, () => {
      const l = mseLoss(model.forward(inputs.patches, inputs.sigma, inputs.text, inputs.mask), inputs.target);
      backward(l);
      return l;
    });
    optimizer.step();
    optimizer.zeroGrad();
    lastLoss?.dispose();
    lastLoss = loss;
  };
  try {
    step();
    const lossFirst = await lastLoss!.item();
    const timing = await timeLoop(step, () => engine.sync(), { ...opts, minIterations: 1 });
    const lossLast = await lastLoss!.item();
    return { config: c, parameters: model.parameterCount(), timing, msPerStep: timing.msPerIteration, lossFirst, lossLast };
  } finally {
    (lastLoss as Tensor | null)?.dispose();
    model.dispose();
    for (const t of Object.values(inputs)) t.dispose();
    optimizer.dispose();
  }
}
