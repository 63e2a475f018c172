// `node scripts/cli.mjs sample --model runs/shapes-teacher [--out samples.png] [--captions "a red circle|a blue square"]
//   [--guidance 4] [--steps 50] [--seed 0] [--checkpoint] [--adapter llvmpipe]`
// Draws images from a pretrained Shapes teacher (Euler with classifier-free guidance) into a PNG grid, one row of
// four per four captions, in the order given. --checkpoint reads the EMA of the run's latest checkpoint, so a run
// can be looked at while it trains; with --raw, its current weights instead of their EMA.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { NodeAdapterKind } from '../gpu/node';
import { loadModule } from '../nn/safetensors';
import { readBytes } from './checkpoint';
import { withEngine } from './engine';
import { writeImageGrid } from './imageGrid';
import { UsageError } from './options';
import { writeOutput } from './output';
import { SAMPLE_CAPTIONS } from './pretrainShapes';
import { sampleShapes, type ShapesModelConfig, ShapesTextToImage } from './shapesModel';

const USAGE = 'usage: node scripts/cli.mjs sample --model DIR [--out PNG] [--captions "a|b"] [--guidance W] [--steps N] [--seed S] [--checkpoint [--raw]] [--adapter KIND]';

export async function main(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        model: { type: 'string' },
        out: { type: 'string' },
        captions: { type: 'string' },
        guidance: { type: 'string', default: '4' },
        steps: { type: 'string', default: '50' },
        seed: { type: 'string', default: '0' },
        checkpoint: { type: 'boolean', default: false },
        raw: { type: 'boolean', default: false },
        adapter: { type: 'string', default: 'llvmpipe' },
      },
      strict: true,
    }));
    if (!values.model) throw new UsageError('--model is required');
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const dir = values.model;
  const config = JSON.parse(readFileSync(join(dir, values.checkpoint ? 'checkpoint/state.json' : 'config.json'), 'utf8'));
  const modelConfig: ShapesModelConfig = values.checkpoint ? config.config : { textEncoder: config.textEncoder, denoiser: config.denoiser };
  const captions = values.captions === undefined ? SAMPLE_CAPTIONS : values.captions.split('|');
  const out = values.out ?? join(dir, values.checkpoint ? `samples-step${config.step}${values.raw ? '-raw' : ''}.png` : 'samples.png');
  await withEngine(values.adapter as NodeAdapterKind, async (engine) => {
    const model = new ShapesTextToImage(engine, modelConfig);
    if (values.checkpoint) loadModule(model, readBytes(join(dir, 'checkpoint', values.raw ? 'model.safetensors' : 'ema.safetensors')));
    else {
      loadModule(model.denoiser, readBytes(join(dir, 'teacher.safetensors')));
      loadModule(model.textEncoder, readBytes(join(dir, 'text-encoder.safetensors')));
    }
    const images = await sampleShapes(model, captions, { guidance: Number(values.guidance), steps: Number(values.steps), seed: Number(values.seed) });
    writeImageGrid(out, images, { columns: 4 });
    writeOutput(out.replace(/\.png$/, '.txt'), `${captions.map((c, i) => `${i}: ${c || '(empty caption)'}`).join('\n')}\n`);
    console.log(`[sample] wrote ${out} (${captions.length} images, guidance ${values.guidance}, ${values.steps} Euler steps)`);
  });
  return 0;
}
