// Attention cost on the test adapter: ms per forward and per forward + backward at B=8, H=4, T=80, D=32
// (a small DiT's shape). Not part of the unit suite:
//   npx vitest run -c bench/vitest.config.ts bench/attention.measure.test.ts
//   SENSEFLOW_ADAPTER=llvmpipe npx vitest run -c bench/vitest.config.ts bench/attention.measure.test.ts
// The numbers go into the header of src/nn/ops/attention.ts.
import { it } from 'vitest';
import { randn } from '../src/nn/host';
import { attention } from '../src/nn/ops/attention';
import { backward, fromArray, type Tensor, tidy } from '../src/nn/tensor';
import { testEngine } from '../src/nn/testing';

it('attention B=8, H=4, T=80, D=32: ms per forward and per forward + backward', async () => {
  const engine = await testEngine();
  const shape = [8, 4, 80, 32];
  const tensors = [1, 2, 3].map((seed) => fromArray(engine, shape, randn(shape, seed).data));
  const seed = fromArray(engine, shape, randn(shape, 5).data);
  const step = (withBackward: boolean) =>
    tidy(engine, () => {
      const [q, k, v] = tensors as [Tensor, Tensor, Tensor];
      q.requiresGrad = k.requiresGrad = v.requiresGrad = withBackward;
      const y = attention(q, k, v);
      if (withBackward) backward(y, seed);
    });
  // Each step synced on its own; min and median of 7 (the dev machines' 2 cores are shared).
  const time = async (withBackward: boolean) => {
    step(withBackward);
    await engine.sync(); // warm-up: pipeline compilation
    const times: number[] = [];
    for (let n = 0; n < 7; n++) {
      const start = performance.now();
      step(withBackward);
      await engine.sync();
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    return `${times[0]!.toFixed(1)} ms (median ${times[3]!.toFixed(1)})`;
  };
  const forward = await time(false);
  const both = await time(true);
  console.log(`attention B=8 H=4 T=80 D=32 on ${engine.adapter.description || engine.adapter.architecture}: forward ${forward}, forward+backward ${both}`);
  for (const t of [...tensors, seed]) t.dispose();
});
