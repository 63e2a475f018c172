// Matmul throughput per kernel on the test adapter: prints a GFLOP/s table. Not part of the unit suite
// (vite.config.ts includes only src/ and scripts/, and vitest 4 has no --include flag; `--dir bench` or
// `--root bench` still apply the project's include), so bench/vitest.config.ts replaces the include:
//   npx vitest run -c bench/vitest.config.ts                              (SwiftShader, ~1 min)
//   SENSEFLOW_ADAPTER=llvmpipe npx vitest run -c bench/vitest.config.ts   (llvmpipe, adds 1024^3, ~1 min)
// MATMUL_VARIANTS=register,tiled and MATMUL_SHAPES=qkv,512 (name prefixes) narrow the table.
// The numbers go into the header of src/nn/ops/matmul.ts.
import { it } from 'vitest';
import { isCpuAdapter, MATMUL_VARIANTS } from '../src/nn/ops/matmul';
import { measureMatmul, type MeasureOptions } from '../src/nn/ops/matmul.perf';
import { testEngine } from '../src/nn/testing';

interface Shape {
  name: string;
  M: number;
  K: number;
  N: number;
  options?: MeasureOptions;
  llvmpipeOnly?: boolean;
}

// The training shapes of a small DiT (256 tokens, width 128, MLP 512, 8 heads of 32 over 80 tokens)
// forward and backward, and square ones.
const SHAPES: Shape[] = [
  { name: 'qkv 256x128 @ 128x384', M: 256, K: 128, N: 384 },
  { name: 'mlp up 256x128 @ 128x512', M: 256, K: 128, N: 512 },
  { name: 'mlp down 256x512 @ 512x128', M: 256, K: 512, N: 128 },
  { name: 'qkv dX 256x384 @ (128x384)^T', M: 256, K: 384, N: 128, options: { transB: true } },
  { name: 'qkv dW (256x128)^T @ 256x384', M: 128, K: 256, N: 384, options: { transA: true } },
  { name: 'scores 8 x 80x32 @ (80x32)^T', M: 80, K: 32, N: 80, options: { batch: 8, transB: true } },
  { name: 'values 8 x 80x80 @ 80x32', M: 80, K: 80, N: 32, options: { batch: 8 } },
  { name: '512^3', M: 512, K: 512, N: 512 },
  { name: '1024^3', M: 1024, K: 1024, N: 1024, llvmpipeOnly: true },
];

/** Seconds each measurement aims for (after a one-product estimate), and rounds over the kernels (the best is kept: other processes share the CPU). */
const TARGET_SECONDS = 0.5;
const ROUNDS = Number(process.env.MATMUL_ROUNDS ?? 3);

it('measures matmul GFLOP/s per kernel', { timeout: 900_000 }, async () => {
  const engine = await testEngine();
  const adapter = `${engine.adapter.device || engine.adapter.description} (${engine.adapter.source})`;
  const variants = (process.env.MATMUL_VARIANTS?.split(',') as typeof MATMUL_VARIANTS | undefined) ?? MATMUL_VARIANTS;
  const llvmpipe = /llvmpipe/i.test(engine.adapter.device);
  const rows: string[] = [`matmul GFLOP/s on ${adapter}, cpu adapter: ${isCpuAdapter(engine)}`, ['shape'.padEnd(32), ...variants.map((v) => v.padStart(14))].join('')];
  const only = process.env.MATMUL_SHAPES?.split(',');
  for (const shape of SHAPES) {
    if ((shape.llvmpipeOnly && !llvmpipe) || (only && !only.some((name) => shape.name.startsWith(name)))) continue;
    const best = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const variant of variants) {
        const flops = 2 * shape.M * shape.N * shape.K * (shape.options?.batch ?? 1);
        const estimate = await measureMatmul(engine, shape.M, shape.K, shape.N, variant, 1, shape.options);
        const iterations = Math.max(1, Math.min(200, Math.round((TARGET_SECONDS * estimate * 1e9) / flops)));
        const gflops = iterations === 1 ? estimate : await measureMatmul(engine, shape.M, shape.K, shape.N, variant, iterations, shape.options);
        best.set(variant, Math.max(best.get(variant) ?? 0, gflops));
      }
    }
    const cells = variants.map((v) => best.get(v)!.toFixed(2).padStart(14));
    rows.push([shape.name.padEnd(32), ...cells].join(''));
    console.log(rows.at(-1));
  }
  console.log(rows.join('\n'));
});
