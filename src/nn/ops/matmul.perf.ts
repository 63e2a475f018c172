// Throughput of the matmul kernels, for bench/matmul.measure.test.ts (and anyone choosing a kernel on a
// new adapter). Not a test: it checks nothing, it times.
import type { Engine } from '../engine';
import { fromArray, type Tensor } from '../tensor';
import { encodeMatmul, type MatmulVariant, planMatmul } from './matmul';

export interface MeasureOptions {
  /** Independent products per dispatch ([batch, M, K] @ [batch, K, N]); default 1. */
  batch?: number;
  transA?: boolean;
  transB?: boolean;
}

/**
 * GFLOP/s (2*M*N*K*batch flops per product) of `iterations` forward products [M x K] @ [K x N] with one
 * kernel, batched into command buffers the way a training step batches them and timed from the first
 * encode to engine.sync(). One untimed product first compiles the pipeline and warms the pool.
 */
export async function measureMatmul(engine: Engine, M: number, K: number, N: number, variant: MatmulVariant, iterations: number, options: MeasureOptions = {}): Promise<number> {
  const batch = options.batch ?? 1;
  const lead = batch > 1 ? [batch] : [];
  const random = (n: number) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
  const aShape = [...lead, ...(options.transA ? [K, M] : [M, K])];
  const bShape = [...lead, ...(options.transB ? [N, K] : [K, N])];
  const a = fromArray(engine, aShape, random(batch * M * K), 'f32', 'bench.a');
  const b = fromArray(engine, bShape, random(batch * K * N), 'f32', 'bench.b');
  const tensors: Tensor[] = [a, b];
  try {
    const { problem, outShape } = planMatmul(a, b, options.transA ?? false, options.transB ?? false);
    const out = fromArray(engine, outShape, new Float32Array(batch * M * N), 'f32', 'bench.c');
    tensors.push(out);
    encodeMatmul(problem, out, null, variant);
    await engine.sync();
    const start = performance.now();
    for (let i = 0; i < iterations; i++) encodeMatmul(problem, out, null, variant);
    await engine.sync();
    const seconds = (performance.now() - start) / 1000;
    return (2 * M * N * K * batch * iterations) / seconds / 1e9;
  } finally {
    for (const t of tensors) t.dispose();
  }
}
