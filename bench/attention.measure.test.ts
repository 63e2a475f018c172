// Attention cost on the test adapter at B=8, H=4, T=80, D=32 (a small DiT's shape): ms per forward and per
// forward + backward, for the three ways a multi-head layer can reach the kernels, in one run:
//   heads     attention() on [B, H, T, D] tensors already split (the kernels alone, contiguous reads)
//   split     a qkv projection [B, T, 3C] split into heads (transpose + slices), attention(), heads merged back
//             (the module's path before the kernels read heads in place)
//   in place  selfAttention() on the qkv projection (the module's path now)
// Not part of the unit suite:
//   npx vitest run -c bench/vitest.config.ts bench/attention.measure.test.ts
//   SENSEFLOW_ADAPTER=llvmpipe npx vitest run -c bench/vitest.config.ts bench/attention.measure.test.ts
// The numbers go into the header of src/nn/ops/attention.ts.
import { it } from 'vitest';
import { randn } from '../src/nn/host';
import { attention, selfAttention } from '../src/nn/ops/attention';
import '../src/nn/ops/elementwise'; // registers the tape's gradient accumulation (the split path sums three slices' gradients)
import { reshape, slice, transpose } from '../src/nn/ops/shape';
import { backward, fromArray, type Tensor, tidy } from '../src/nn/tensor';
import { testEngine } from '../src/nn/testing';

const [B, H, T, D] = [8, 4, 80, 32];

function splitMerge(qkv: Tensor): Tensor {
  const split = transpose(reshape(qkv, [B, T, 3, H, D]), [2, 0, 3, 1, 4]);
  const [q, k, v] = [0, 1, 2].map((i) => reshape(slice(split, 0, i, i + 1), [B, H, T, D])) as [Tensor, Tensor, Tensor];
  return reshape(transpose(attention(q, k, v), [0, 2, 1, 3]), [B, T, H * D]);
}

it('attention B=8, H=4, T=80, D=32: ms per forward and per forward + backward, three paths', async () => {
  const engine = await testEngine();
  const heads = [1, 2, 3].map((seed) => fromArray(engine, [B, H, T, D], randn([B, H, T, D], seed).data));
  const qkv = fromArray(engine, [B, T, 3 * H * D], randn([B, T, 3 * H * D], 4).data);
  const seeds = { heads: fromArray(engine, [B, H, T, D], randn([B, H, T, D], 5).data), merged: fromArray(engine, [B, T, H * D], randn([B, T, H * D], 6).data) };
  const paths: Record<string, { run: () => Tensor; inputs: Tensor[]; seed: Tensor }> = {
    heads: { run: () => attention(heads[0]!, heads[1]!, heads[2]!), inputs: heads, seed: seeds.heads },
    split: { run: () => splitMerge(qkv), inputs: [qkv], seed: seeds.merged },
    'in place': { run: () => selfAttention(qkv, H), inputs: [qkv], seed: seeds.merged },
  };
  // Each step synced on its own; min and median of 7 (the dev machines' 2 cores are often shared).
  const time = async (path: (typeof paths)[string], withBackward: boolean) => {
    const step = () =>
      tidy(engine, () => {
        for (const t of path.inputs) t.requiresGrad = withBackward;
        const y = path.run();
        if (withBackward) backward(y, path.seed);
      });
    step();
    await engine.sync(); // warm-up: pipeline compilation
    const times: number[] = [];
    for (let n = 0; n < 7; n++) {
      const start = performance.now();
      step();
      await engine.sync();
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    return `${times[0]!.toFixed(1)} ms (median ${times[3]!.toFixed(1)})`;
  };
  for (const [name, path] of Object.entries(paths)) {
    const forward = await time(path, false);
    const both = await time(path, true);
    console.log(`attention B=8 H=4 T=80 D=32, ${name} on ${engine.adapter.description || engine.adapter.architecture}: forward ${forward}, forward+backward ${both}`);
  }
  for (const t of [...heads, qkv, seeds.heads, seeds.merged]) t.dispose();
});
