// GPU time per kernel, from timestamp queries around each compute pass (needs the 'timestamp-query' feature,
// which gpu/device.ts requests where the adapter has it). Off unless an Engine is given one; the pretraining
// commands turn it on with SENSEFLOW_PROFILE=<steps> and print the table after that many steps.
//
// Each batch of dispatches (one command buffer) writes a begin and an end timestamp per pass into a query set;
// flush() resolves them into a buffer that is mapped once the GPU is done, and the durations are summed by kernel
// label. Passes beyond the query set's capacity in one batch are not timed (counted in `untimed`).
import type { Dispatch, Engine, Kernel } from './engine';

const CAPACITY = 2048; // passes per batch: WebGPU allows 4096 queries in a set

export interface KernelTime {
  label: string;
  calls: number;
  ms: number;
}

export class KernelProfiler {
  private readonly querySet: GPUQuerySet;
  private labels: string[] = [];
  private readonly totals = new Map<string, { calls: number; ns: number }>();
  private readonly reading: Promise<void>[] = [];
  untimed = 0;

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ label: 'profiler', type: 'timestamp', count: 2 * CAPACITY });
  }

  static available(device: GPUDevice): boolean {
    return device.features.has('timestamp-query');
  }

  /** The timestampWrites for the next pass of the current batch (undefined when the batch is full). */
  pass(label: string): GPUComputePassTimestampWrites | undefined {
    if (this.labels.length >= CAPACITY) {
      this.untimed++;
      return undefined;
    }
    const i = this.labels.length;
    this.labels.push(label);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Before the batch's encoder is finished: resolve its timestamps into a buffer read after submit. */
  resolve(encoder: GPUCommandEncoder): () => void {
    const labels = this.labels;
    this.labels = [];
    if (labels.length === 0) return () => {};
    const bytes = labels.length * 16;
    const resolved = this.device.createBuffer({ label: 'profiler.resolve', size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const readback = this.device.createBuffer({ label: 'profiler.read', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, 2 * labels.length, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, readback, 0, bytes);
    return () => {
      this.reading.push(
        readback.mapAsync(GPUMapMode.READ).then(() => {
          const stamps = new BigUint64Array(readback.getMappedRange());
          labels.forEach((label, i) => {
            const ns = Number(stamps[2 * i + 1]! - stamps[2 * i]!);
            const total = this.totals.get(label) ?? { calls: 0, ns: 0 };
            total.calls++;
            total.ns += ns > 0 && ns < 1e10 ? ns : 0;
            this.totals.set(label, total);
          });
          readback.destroy();
          resolved.destroy();
        }),
      );
    };
  }

  /** Kernel times so far, the most expensive first (waits for the batches still being read). */
  async report(): Promise<KernelTime[]> {
    await Promise.all(this.reading.splice(0));
    return [...this.totals].map(([label, t]) => ({ label, calls: t.calls, ms: t.ns / 1e6 })).sort((a, b) => b.ms - a.ms);
  }

  reset(): void {
    this.totals.clear();
  }
}

/**
 * Kernel times on adapters without timestamp queries (Dawn's llvmpipe): each recorded dispatch encoded and run
 * again on its own, `repeats` times, the fastest kept, summed by label. Every replay includes a submit and a wait,
 * and rewrites the buffers the dispatch wrote (weights too, for an optimizer's): only for a process that stops
 * after profiling (src/cli/profile.ts).
 */
export async function replayDispatches(engine: Engine, dispatches: readonly [Kernel, Dispatch][], repeats = 3): Promise<KernelTime[]> {
  const totals = new Map<string, KernelTime>();
  for (const [kernel, call] of dispatches) {
    let best = Infinity;
    for (let r = 0; r < repeats; r++) {
      await engine.sync();
      const start = performance.now();
      engine.dispatch(kernel, call);
      await engine.sync();
      best = Math.min(best, performance.now() - start);
    }
    const total = totals.get(kernel.label) ?? { label: kernel.label, calls: 0, ms: 0 };
    total.calls++;
    total.ms += best;
    totals.set(kernel.label, total);
  }
  return [...totals.values()].sort((a, b) => b.ms - a.ms);
}
