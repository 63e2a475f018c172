// `npm run pretrain -- shapes|toy2d|evaluator --seed S --steps N --out DIR [...]` (src/cli/options.ts lists the flags).
import { withEngine } from './engine';
import { parsePretrainOptions, PRETRAIN_USAGE, type PretrainOptions, UsageError } from './options';

type Pretrainer = (options: PretrainOptions) => Promise<void>;

const MODELS: Record<string, Pretrainer> = {
  shapes: (options) =>
    withEngine(options.adapter, async (engine) => {
      const { pretrainShapes } = await import('./pretrainShapes');
      await pretrainShapes(engine, options);
    }),
  toy2d: (options) =>
    withEngine(options.adapter, async (engine) => {
      const { pretrainToy2d } = await import('./pretrainToy2d');
      await pretrainToy2d(engine, options);
    }),
  evaluator: async (options) => {
    const { pretrainEvaluator } = await import('./evaluator');
    await pretrainEvaluator(options);
  },
};

export async function main(argv: readonly string[]): Promise<number> {
  const [model, ...rest] = argv;
  try {
    if (!model || !Object.hasOwn(MODELS, model)) throw new UsageError(`pretrain: the first argument must be one of ${Object.keys(MODELS).join(', ')}, got ${JSON.stringify(model ?? '')}`);
    const options = parsePretrainOptions(rest);
    if (options.maxMinutes !== undefined && model !== 'shapes') throw new UsageError(`--max-minutes is supported for shapes only (the long run); ${model} runs to --steps`);
    if (options.mixture !== undefined && model !== 'toy2d') throw new UsageError(`--mixture is for toy2d (one teacher per mixture); ${model} has none`);
    if (options.initFrom !== undefined && model !== 'shapes') throw new UsageError(`--init-from is supported for shapes only; ${model} trains from scratch in minutes`);
    await MODELS[model]!(options);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n${PRETRAIN_USAGE}`);
      return 2;
    }
    throw error;
  }
}
