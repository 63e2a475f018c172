// `node scripts/cli.mjs denoise --model runs/shapes-teacher [--checkpoint [--raw]] [--out PNG] [--count 6]`
// How well a Shapes teacher denoises, per noise level: real images from makeBatch are noised to s and denoised
// in one step (x0_hat = x_s - s v, the caption as condition, no guidance). Prints the flow-matching loss per level
// and writes a grid: the clean images, then for s = 0.4, 0.8 and 1.0 the noised input and x0_hat. A teacher that
// denoises well at s = 0.4 but not at s >= 0.8 has not learned the global layout its sampler starts from.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeBatch } from '../data/dataset';
import { flowMatchingLoss, noiseTo, x0FromVelocity } from '../flow/tensors';
import type { NodeAdapterKind } from '../gpu/node';
import { randn } from '../nn/ops/random';
import { loadModule } from '../nn/safetensors';
import { fromArray, noGrad, tidy } from '../nn/tensor';
import { readBytes } from './checkpoint';
import { withEngine } from './engine';
import { writeImageGrid } from './imageGrid';
import { type ShapesModelConfig, ShapesTextToImage } from './shapesModel';

const LEVELS = [0.05, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 1];
const SHOWN = [0.4, 0.8, 1];

export async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      model: { type: 'string' },
      out: { type: 'string' },
      count: { type: 'string', default: '6' },
      checkpoint: { type: 'boolean', default: false },
      raw: { type: 'boolean', default: false },
      adapter: { type: 'string', default: 'llvmpipe' },
    },
    strict: true,
  });
  if (!values.model) {
    console.error('usage: node scripts/cli.mjs denoise --model DIR [--checkpoint [--raw]] [--out PNG] [--count N] [--adapter KIND]');
    return 2;
  }
  const dir = values.model;
  const n = Number(values.count);
  const saved = JSON.parse(readFileSync(join(dir, values.checkpoint ? 'checkpoint/state.json' : 'config.json'), 'utf8'));
  const config: ShapesModelConfig = values.checkpoint ? saved.config : { textEncoder: saved.textEncoder, denoiser: saved.denoiser };
  await withEngine(values.adapter as NodeAdapterKind, async (engine) => {
    const model = new ShapesTextToImage(engine, config);
    if (values.checkpoint) loadModule(model, readBytes(join(dir, 'checkpoint', values.raw ? 'model.safetensors' : 'ema.safetensors')));
    else {
      loadModule(model.denoiser, readBytes(join(dir, 'teacher.safetensors')));
      loadModule(model.textEncoder, readBytes(join(dir, 'text-encoder.safetensors')));
    }
    const batch = makeBatch(999, n);
    const shown: Float32Array[] = [batch.images];
    for (const s of LEVELS) {
      const [loss, noised, denoised] = noGrad(engine, () =>
        tidy(engine, () => {
          const x0 = fromArray(engine, [n, 3, 32, 32], batch.images);
          const eps = randn(engine, [n, 3, 32, 32], 5);
          const sigma = fromArray(engine, [n], new Float32Array(n).fill(s));
          const text = model.encode(batch.captions);
          const x = noiseTo(x0, eps, sigma);
          const v = model.denoiser.forward(x, sigma, text.states, text.mask, text.pooled);
          return [flowMatchingLoss(v, x0, eps), x, x0FromVelocity(x, v, s)];
        }),
      );
      console.log(`[denoise] s = ${s.toFixed(2)}: flow-matching loss ${(await loss!.item()).toFixed(4)}`);
      if (SHOWN.includes(s)) shown.push(await noised!.read(), await denoised!.read());
      for (const t of [loss, noised, denoised]) t!.dispose();
    }
    const out = values.out ?? join(dir, 'denoise.png');
    writeImageGrid(out, Float32Array.from(shown.flatMap((images) => Array.from(images))), { columns: n });
    console.log(`[denoise] captions: ${batch.captions.join(' | ')}\n[denoise] wrote ${out}: clean row, then (x_s, x0_hat) rows for s = ${SHOWN.join(', ')}`);
  });
  return 0;
}
