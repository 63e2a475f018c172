// `node scripts/cli.mjs profile [--batch 64] [--adapter llvmpipe] [--denoiser JSON]`: where a Shapes teacher training
// step's time goes, kernel by kernel, on any adapter. Runs warm-up steps, records the dispatches of one step, then
// times each one alone (nn/profiler.ts replayDispatches): on llvmpipe, which has no timestamp queries, this is how
// the table SENSEFLOW_PROFILE prints on other adapters is had. The replays rewrite what the step wrote, so the
// command trains nothing and saves nothing.
import { parseArgs } from 'node:util';
import type { Dispatch, Kernel } from '../nn/engine';
import type { NodeAdapterKind } from '../gpu/node';
import { AdamW } from '../nn/optim';
import { replayDispatches } from '../nn/profiler';
import { backward, tidy } from '../nn/tensor';
import { adapterLabel, withEngine } from './engine';
import { shapesStepLoss } from './pretrainShapes';
import { ShapesTextToImage } from './shapesModel';

export async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { batch: { type: 'string', default: '64' }, adapter: { type: 'string', default: 'llvmpipe' }, denoiser: { type: 'string', default: '{}' } },
    strict: true,
  });
  const batch = Number(values.batch);
  await withEngine(values.adapter as NodeAdapterKind, async (engine) => {
    const model = new ShapesTextToImage(engine, { textEncoder: {}, denoiser: JSON.parse(values.denoiser!) }, 1);
    const optimizer = new AdamW(engine, model, { lr: 1e-4, weightDecay: 0 });
    const step = async (t: number) => {
      const loss = tidy(engine, () => {
        const value = shapesStepLoss(engine, model, 1, t, batch, 2);
        backward(value);
        return value;
      });
      await loss.item();
      loss.dispose();
      optimizer.step();
      optimizer.zeroGrad();
      await engine.sync();
    };
    for (let t = 0; t < 2; t++) await step(t); // compiles every pipeline
    const started = performance.now();
    for (let t = 2; t < 4; t++) await step(t);
    const wall = (performance.now() - started) / 2;
    const dispatches: [Kernel, Dispatch][] = [];
    engine.recorder = (kernel, call) => dispatches.push([kernel, call]);
    await step(4);
    engine.recorder = undefined;
    const kernels = await replayDispatches(engine, dispatches);
    const total = kernels.reduce((sum, k) => sum + k.ms, 0);
    console.log(`[profile] Shapes teacher step, batch ${batch}, ${adapterLabel(engine)}: ${wall.toFixed(0)} ms per step; ${dispatches.length} dispatches, ${total.toFixed(0)} ms replayed one at a time`);
    for (const k of kernels) console.log(`  ${k.ms.toFixed(1).padStart(8)} ms  ${String(k.calls).padStart(4)} calls  ${k.label}`);
    optimizer.dispose();
  });
  return 0;
}
