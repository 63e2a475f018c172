// The kernels suite: GFLOP/s of our matmul against onnxruntime-web's WebGPU MatMul and
// @tensorflow/tfjs-backend-webgpu's matMul, on the same adapter in the same page, for the shapes the
// training loop uses plus 512^3 and 1024^3; and ms per training step of a small DiT.
//
// Method (each implementation, each shape): the same random inputs, already on that implementation's
// GPU device; one warm-up iteration with a full sync (pipeline compilation, first uploads); then K
// iterations back to back with one full sync at the end, K chosen so the timed run takes about the
// time budget (see timeLoop in ./common.ts). GFLOP/s = 2 * batch * M * N * K_inner / time per iteration.
// The implementations take turns (ours, ORT, tfjs, ours, ...) for `rounds` rounds and each keeps its
// best round, so load from elsewhere on the machine does not favour whichever ran in a quiet moment.
//   ours: matmul() (the engine batches dispatches into command buffers); sync = engine.sync().
//   ORT:  a one-node MatMul model written by src/onnx/proto.ts, executionProviders ['webgpu'] only
//         (node placement checked in ORT's verbose session log), inputs as ort.Tensor.fromGpuBuffer,
//         preferredOutputLocation 'gpu-buffer' (no readback per run); sync = reading the last output
//         (which waits for every earlier run on the queue).
//   tfjs: tf.matMul on tensors made once, each output disposed; sync = await data() of the last one.
// Every output is compared with ours and with a float64 CPU product (max abs diff).
//
// Page options (URL query, from `npm run bench -- kernels --<option>`): quick (skip 1024^3),
// budget-ms (1000), max-iterations (1000), rounds (2).
import { acquireBrowserGpu, type AdapterReport } from '../src/gpu/device';
import { Engine } from '../src/nn/engine';
import { uniform } from '../src/nn/host';
import { fromArray, type Tensor } from '../src/nn/tensor';
import { matmulModel } from '../src/onnx/proto';
import { loadOrt } from '../src/pipeline/ort';
import { type BenchTable, errorMessage, flag, log, numberOption, runSuite, type Timing, timeLoop, yieldToBrowser } from './common';

interface MatmulShape {
  name: string;
  /** What the shape is in the training loop. */
  role: string;
  /** Batch of independent products (1: a plain matrix product). */
  batch: number;
  M: number;
  K: number;
  N: number;
  /** Skipped with --quick. */
  large?: boolean;
}

/** B*T = 256 tokens of width 128 (the small DiT of bench/dit-step.ts), MLP ratio 4; attention scores over 80 tokens. */
const SHAPES: readonly MatmulShape[] = [
  { name: '256x128 @ 128x384', role: 'attention qkv projection', batch: 1, M: 256, K: 128, N: 384 },
  { name: '256x128 @ 128x512', role: 'MLP fc1', batch: 1, M: 256, K: 128, N: 512 },
  { name: '256x512 @ 512x128', role: 'MLP fc2', batch: 1, M: 256, K: 512, N: 128 },
  { name: '256x128 @ 128x128', role: 'attention output projection', batch: 1, M: 256, K: 128, N: 128 },
  { name: '32 x (80x32 @ 32x80)', role: 'attention scores (batched: both operands)', batch: 32, M: 80, K: 32, N: 80 },
  { name: '512^3', role: 'reference size', batch: 1, M: 512, K: 512, N: 512 },
  { name: '1024^3', role: 'reference size (skipped with --quick)', batch: 1, M: 1024, K: 1024, N: 1024, large: true },
];

type PeerName = 'ours' | 'onnxruntime-web' | 'tfjs-webgpu';
const PEERS: readonly PeerName[] = ['ours', 'onnxruntime-web', 'tfjs-webgpu'];

/** One implementation set up for one shape. */
interface PreparedCase {
  step(): void | Promise<void>;
  sync(): Promise<void>;
  /** The last output (after a sync). */
  read(): Promise<Float32Array>;
  dispose(): void | Promise<void>;
  /** Anything worth recording about how this case ran (e.g. the kernel variant). */
  details?: Record<string, unknown>;
}

interface Peer {
  name: PeerName;
  prepare(shape: MatmulShape, a: Float32Array, b: Float32Array): Promise<PreparedCase>;
}

/** What the results record about a peer: its version, device, how it syncs, or why it could not run. */
interface PeerInfo {
  status: 'ok' | 'error';
  version?: string;
  adapter?: AdapterSummary;
  sync?: string;
  error?: string;
  [key: string]: unknown;
}

interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean | null;
}

function summarize(info: GPUAdapterInfo | undefined): AdapterSummary | undefined {
  if (!info) return undefined;
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: typeof fallback === 'boolean' ? fallback : null,
  };
}

function dimsOf(shape: MatmulShape): { a: number[]; b: number[]; y: number[] } {
  const lead = shape.batch > 1 ? [shape.batch] : [];
  return { a: [...lead, shape.M, shape.K], b: [...lead, shape.K, shape.N], y: [...lead, shape.M, shape.N] };
}

function flopsOf(shape: MatmulShape): number {
  return 2 * shape.batch * shape.M * shape.N * shape.K;
}

// ---- ours ----

async function oursPeer(engine: Engine): Promise<Peer> {
  const ops = await import('../src/nn/ops/matmul');
  // The kernel choice is an implementation detail of matmul.ts; recorded when it is exported.
  const choose = (ops as unknown as Record<string, unknown>).chooseMatmulVariant as ((e: Engine, M: number, N: number, K: number) => string) | undefined;
  return {
    name: 'ours',
    async prepare(shape, a, b) {
      const dims = dimsOf(shape);
      const ta = fromArray(engine, dims.a, a, 'f32', 'bench.a');
      const tb = fromArray(engine, dims.b, b, 'f32', 'bench.b');
      let last: Tensor | null = null;
      return {
        step() {
          const y = ops.matmul(ta, tb);
          last?.dispose();
          last = y;
        },
        sync: () => engine.sync(),
        read: () => last!.read(),
        dispose() {
          (last as Tensor | null)?.dispose();
          ta.dispose();
          tb.dispose();
        },
        details: choose ? { variant: choose(engine, shape.M, shape.N, shape.K) } : {},
      };
    },
  };
}

// ---- onnxruntime-web ----

type Ort = Awaited<ReturnType<typeof loadOrt>>;

// Console output is tapped once, for the whole page, rather than around each call: ORT's wasm module
// binds console.error when it is instantiated (during the first session's creation), so a wrapper
// installed and removed around one call would keep receiving ORT's logs forever after.
let consoleSink: string[] | null = null;
(() => {
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      const line = args.map(String).join(' ');
      consoleSink?.push(line);
      // ORT's verbose and info lines (we ask for them to see the node placement) are kept, not printed.
      if (!/\[[VI]:onnxruntime/.test(line)) original(...args);
    };
  }
})();

/** Console output during `fn` (ORT's native logs reach the page console). */
async function captureConsole<T>(fn: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
  const lines: string[] = [];
  const previous = consoleSink;
  consoleSink = lines;
  try {
    return { value: await fn(), lines };
  } finally {
    consoleSink = previous;
  }
}

/** ORT's report of where nodes were placed, from its verbose session log. */
function placementOf(lines: string[]): { executionProviders: string[]; log: string[] } {
  const relevant = lines.filter((l) => /placed on|not assigned|fall ?back/i.test(l)).slice(0, 20).map((l) => l.replace(/^\S+ \S+ /, ''));
  const providers = new Set<string>();
  for (const line of relevant) for (const m of line.matchAll(/\[(\w+ExecutionProvider)\]/g)) providers.add(m[1]!);
  return { executionProviders: [...providers], log: relevant };
}

async function ortPeer(info: PeerInfo): Promise<Peer> {
  const ort: Ort = await loadOrt();
  ort.env.logLevel = 'warning';
  info.version = ort.env.versions.web ?? __ORT_VERSION__;
  info.sync = 'await outputTensor.getData() of the last run (gpu-buffer output)';
  info.requestedExecutionProviders = ['webgpu'];
  const placements: Record<string, unknown> = {};
  info.placements = placements;

  return {
    name: 'onnxruntime-web',
    async prepare(shape, a, b) {
      const dims = dimsOf(shape);
      const model = matmulModel(dims.a, dims.b, dims.y);
      const { value: session, lines } = await captureConsole(() =>
        ort.InferenceSession.create(model, {
          executionProviders: ['webgpu'],
          preferredOutputLocation: 'gpu-buffer',
          graphOptimizationLevel: 'all',
          // Verbose, for the node placement line ("All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 1").
          logSeverityLevel: 0,
          logVerbosityLevel: 0,
        }),
      );
      const placement = placementOf(lines);
      placements[shape.name] = placement.executionProviders;
      info.placementLog ??= placement.log;
      if (placement.executionProviders.length === 0) throw new Error(`ORT logged no node placement for this session (${lines.length} log lines)`);
      if (placement.executionProviders.some((ep) => ep !== 'WebGpuExecutionProvider')) {
        throw new Error(`ORT placed MatMul on ${placement.executionProviders.join(', ')}, not only WebGPU: ${placement.log.join(' | ')}`);
      }
      // Looked up for every session: with one device kept from the first session, the next session (made
      // after the first was released) rejected buffers from it as belonging to another device.
      const dev: GPUDevice = await ort.env.webgpu.device;
      if (!info.adapter) {
        info.adapter = summarize((dev as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo);
        info.executionProvider = placement.executionProviders[0] ?? 'unknown (no placement line in the log)';
      }
      const upload = (data: Float32Array) => {
        const buffer = dev.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
        dev.queue.writeBuffer(buffer, 0, data);
        return buffer;
      };
      const bufA = upload(a);
      const bufB = upload(b);
      const feeds = {
        a: ort.Tensor.fromGpuBuffer(bufA, { dataType: 'float32', dims: dims.a }),
        b: ort.Tensor.fromGpuBuffer(bufB, { dataType: 'float32', dims: dims.b }),
      };
      let last: InstanceType<Ort['Tensor']> | null = null;
      return {
        async step() {
          const out = await session.run(feeds, { logSeverityLevel: 3 });
          last?.dispose();
          last = out.y!;
          if (last.location !== 'gpu-buffer') throw new Error(`ORT returned its output on ${last.location}, not gpu-buffer`);
        },
        async sync() {
          await last!.getData();
        },
        async read() {
          return (await last!.getData()) as Float32Array;
        },
        async dispose() {
          last?.dispose();
          await session.release();
          bufA.destroy();
          bufB.destroy();
        },
      };
    },
  };
}

// ---- tfjs ----

async function tfjsPeer(info: PeerInfo): Promise<Peer> {
  const tf = await import('@tensorflow/tfjs-core');
  const webgpu = await import('@tensorflow/tfjs-backend-webgpu');
  info.version = `tfjs-core ${tf.version_core}`;
  info.sync = 'await data() of the last output';
  // Small tensors held on the CPU would run on tfjs's CPU path; ours are all large, but make sure.
  tf.env().set('WEBGPU_CPU_HANDOFF_SIZE_THRESHOLD', 0);
  const { value: ok, lines } = await captureConsole(() => tf.setBackend('webgpu'));
  if (!ok || tf.getBackend() !== 'webgpu') {
    throw new Error(`tf.setBackend('webgpu') failed: ${lines.join(' | ') || 'no message'}`);
  }
  await tf.ready();
  const backend = tf.backend() as InstanceType<typeof webgpu.WebGPUBackend>;
  info.adapter = summarize((backend.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo);
  info.flags = { WEBGPU_CPU_HANDOFF_SIZE_THRESHOLD: 0, WEBGPU_MATMUL_PROGRAM_TYPE: tf.env().get('WEBGPU_MATMUL_PROGRAM_TYPE') };
  return {
    name: 'tfjs-webgpu',
    async prepare(shape, a, b) {
      const dims = dimsOf(shape);
      const ta = tf.tensor(a, dims.a, 'float32');
      const tb = tf.tensor(b, dims.b, 'float32');
      let last: ReturnType<typeof tf.matMul> | null = null;
      return {
        step() {
          const y = tf.matMul(ta, tb);
          last?.dispose();
          last = y;
        },
        async sync() {
          await last!.data();
        },
        async read() {
          return (await last!.data()) as Float32Array;
        },
        dispose() {
          last?.dispose();
          ta.dispose();
          tb.dispose();
        },
      };
    },
  };
}

// ---- the reference and the comparison ----

/** a @ b in float64 (per batch entry), for checking ours. */
function matmulFloat64(shape: MatmulShape, a: Float32Array, b: Float32Array): Float64Array {
  const { batch, M, K, N } = shape;
  const y = new Float64Array(batch * M * N);
  const row = new Float64Array(N);
  for (let p = 0; p < batch; p++) {
    for (let i = 0; i < M; i++) {
      row.fill(0);
      for (let k = 0; k < K; k++) {
        const aik = a[(p * M + i) * K + k]!;
        const bRow = (p * K + k) * N;
        for (let j = 0; j < N; j++) row[j]! += aik * b[bRow + j]!;
      }
      y.set(row, (p * M + i) * N);
    }
  }
  return y;
}

function maxAbsDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

// ---- the suite ----

interface CaseResult {
  /** From the best round (the least disturbed by other load on the machine). */
  gflops: number;
  msPerIteration: number;
  iterations: number;
  totalMs: number;
  warmupMs: number;
  /** GFLOP/s of every round, in order. */
  rounds: number[];
  [key: string]: unknown;
}

/**
 * Every peer's case for one shape, prepared together and measured in interleaved rounds (ours, ORT,
 * tfjs, ours, ORT, tfjs, ...), so load from elsewhere on the machine hits them alike; each keeps its
 * best round. Returns the results and each peer's last output.
 */
async function measureShape(peers: readonly Peer[], shape: MatmulShape, a: Float32Array, b: Float32Array, opts: { budgetMs: number; maxIterations: number; rounds: number }) {
  const results: Partial<Record<PeerName, CaseResult | { error: string }>> = {};
  const outputs: Partial<Record<PeerName, Float32Array>> = {};
  const prepared = new Map<Peer, PreparedCase>();
  try {
    for (const peer of peers) {
      try {
        prepared.set(peer, await peer.prepare(shape, a, b));
      } catch (error) {
        results[peer.name] = { error: errorMessage(error) };
        log(`${shape.name}: ${peer.name} failed to set up: ${errorMessage(error)}`);
      }
    }
    for (let round = 0; round < opts.rounds; round++) {
      for (const [peer, c] of prepared) {
        const previous = results[peer.name];
        if (previous && 'error' in previous) continue;
        await yieldToBrowser();
        try {
          const timing: Timing = await timeLoop(() => c.step(), () => c.sync(), opts);
          const gflops = flopsOf(shape) / (timing.msPerIteration * 1e6);
          log(`${shape.name}: ${peer.name} round ${round + 1}: ${gflops.toFixed(2)} GFLOP/s (${timing.msPerIteration.toFixed(3)} ms x ${timing.iterations})`);
          const rounds = [...(previous?.rounds ?? []), gflops];
          if (!previous || gflops > previous.gflops) {
            const { iterations, totalMs, msPerIteration, warmupMs } = timing;
            results[peer.name] = { gflops, msPerIteration, iterations, totalMs, warmupMs, rounds, ...c.details };
          } else {
            previous.rounds = rounds;
          }
        } catch (error) {
          results[peer.name] = { error: errorMessage(error) };
          log(`${shape.name}: ${peer.name} failed: ${errorMessage(error)}`);
        }
      }
    }
    for (const [peer, c] of prepared) {
      const r = results[peer.name];
      if (r && !('error' in r)) outputs[peer.name] = Float32Array.from(await c.read());
    }
  } finally {
    for (const c of prepared.values()) await c.dispose();
  }
  return { results, outputs };
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

runSuite('kernels', async () => {
  const quick = flag('quick');
  const budgetMs = numberOption('budget-ms', 1000);
  const maxIterations = numberOption('max-iterations', 1000);
  const rounds = Math.max(1, Math.round(numberOption('rounds', 2)));
  const started = performance.now();

  const gpu = await acquireBrowserGpu({ label: 'bench.ours' });
  const engine = new Engine(gpu);
  const adapter: AdapterReport = engine.adapter;
  log(`adapter: ${adapter.vendor} / ${adapter.architecture} / ${adapter.description} (fallback: ${adapter.isFallbackAdapter})`);

  const { vendor, architecture, device, description, isFallbackAdapter } = adapter;
  const peerInfo: Record<PeerName, PeerInfo> = {
    ours: { status: 'ok', adapter: { vendor, architecture, device, description, isFallbackAdapter }, sync: 'engine.sync() (submit + onSubmittedWorkDone)' },
    'onnxruntime-web': { status: 'ok' },
    'tfjs-webgpu': { status: 'ok' },
  };

  /** What makes the run fail (exit code 1, after the results are written): our matmul missing, failing or wrong. Peers' errors are recorded only. */
  const failures: string[] = [];
  const peers: Peer[] = [];
  const loaders: Record<PeerName, () => Promise<Peer>> = {
    ours: () => oursPeer(engine),
    'onnxruntime-web': () => ortPeer(peerInfo['onnxruntime-web']),
    'tfjs-webgpu': () => tfjsPeer(peerInfo['tfjs-webgpu']),
  };
  for (const name of PEERS) {
    try {
      log(`loading ${name}`);
      peers.push(await loaders[name]());
    } catch (error) {
      peerInfo[name] = { ...peerInfo[name], status: 'error', error: errorMessage(error) };
      if (name === 'ours') failures.push(`our matmul did not load: ${errorMessage(error)}`);
      log(`${name} cannot run: ${errorMessage(error)}`);
    }
  }

  const shapes = [];
  for (const [index, shape] of SHAPES.entries()) {
    if (quick && shape.large) {
      shapes.push({ ...shape, flops: flopsOf(shape), skipped: 'skipped with --quick' });
      continue;
    }
    const dims = dimsOf(shape);
    const a = Float32Array.from(uniform(dims.a, 1000 + index).data);
    const b = Float32Array.from(uniform(dims.b, 2000 + index).data);
    const { results, outputs } = await measureShape(peers, shape, a, b, { budgetMs, maxIterations, rounds });
    // The same work: every peer's output against ours, and every output against a float64 product.
    log(`${shape.name}: checking outputs`);
    const reference = matmulFloat64(shape, a, b);
    const maxAbsDiffVsOurs: Partial<Record<PeerName, number>> = {};
    const maxAbsDiffVsFloat64: Partial<Record<PeerName, number>> = {};
    for (const name of PEERS) {
      const out = outputs[name];
      if (!out) continue;
      maxAbsDiffVsFloat64[name] = maxAbsDiff(out, reference);
      if (name !== 'ours' && outputs.ours) maxAbsDiffVsOurs[name] = maxAbsDiff(out, outputs.ours);
    }
    // Sums of K products of values in [-1, 1] in float32: errors grow with K; a wrong kernel is off by O(1).
    const tolerance = 1e-5 * shape.K;
    const agrees = Object.fromEntries(Object.entries(maxAbsDiffVsFloat64).map(([name, d]) => [name, d <= tolerance]));
    const oursResult = results.ours;
    if (oursResult && 'error' in oursResult) failures.push(`ours failed on ${shape.name}: ${oursResult.error}`);
    if (agrees.ours === false) failures.push(`ours is wrong on ${shape.name}: max |ours - float64| = ${maxAbsDiffVsFloat64.ours} > ${tolerance}`);
    shapes.push({ ...shape, flops: flopsOf(shape), results, maxAbsDiffVsOurs, maxAbsDiffVsFloat64, tolerance, agrees });
  }

  let ditTrainingStep: Record<string, unknown>;
  try {
    log('small DiT training step: loading');
    const { measureDitStep } = await import('./dit-step');
    // A step takes about a second on SwiftShader: a longer budget, for more than a couple of steps.
    const dit = await measureDitStep(engine, { budgetMs: Math.max(3 * budgetMs, 3000), maxIterations: 100 });
    ditTrainingStep = { status: 'ok', what: 'forward + MSE loss + backward + AdamW step, one tidy scope; sync = engine.sync()', ...dit };
    log(`small DiT training step: ${dit.msPerStep.toFixed(1)} ms (${dit.timing.iterations} steps)`);
  } catch (error) {
    ditTrainingStep = {
      status: 'todo',
      todo: 'TODO: the DiT training step could not be measured (src/nn/modules/dit.ts or the ops it needs do not load yet)',
      error: errorMessage(error),
    };
    log(`small DiT training step: TODO (${errorMessage(error)})`);
  }

  const table: BenchTable = {
    title: `matmul GFLOP/s on ${adapter.vendor} ${adapter.architecture} (${adapter.description || 'no description'}${adapter.isFallbackAdapter ? ', fallback adapter' : ''})`,
    columns: ['shape', 'role', ...PEERS.map((p) => `${p} GFLOP/s`), 'max|ORT-ours|', 'max|tfjs-ours|', 'max|ours-f64|'],
    rows: shapes.map((s) => {
      if ('skipped' in s) return [s.name, s.role, ...PEERS.map(() => 'skipped'), null, null, null];
      const cell = (name: PeerName) => {
        const r = s.results[name];
        if (!r) return peerInfo[name].status === 'error' ? 'n/a' : null;
        return 'error' in r ? 'error' : round(r.gflops, 2);
      };
      const exp = (x: number | undefined) => (x === undefined ? null : x.toExponential(1));
      return [s.name, s.role, ...PEERS.map(cell), exp(s.maxAbsDiffVsOurs['onnxruntime-web']), exp(s.maxAbsDiffVsOurs['tfjs-webgpu']), exp(s.maxAbsDiffVsFloat64.ours)];
    }),
  };
  table.rows.push(
    ditTrainingStep.status === 'ok'
      ? ['small DiT training step', 'ms per step (not GFLOP/s)', round(ditTrainingStep.msPerStep as number, 1), null, null, null, null, null]
      : ['small DiT training step', 'TODO: DiT does not load yet', 'todo', null, null, null, null, null],
  );

  const result = {
    suite: 'kernels',
    quick,
    budgetMs,
    maxIterations,
    rounds,
    adapter,
    userAgent: navigator.userAgent,
    crossOriginIsolated: globalThis.crossOriginIsolated,
    peers: peerInfo,
    method:
      'Per implementation and shape: same inputs (uniform [-1, 1], fixed seeds) already on its GPU device; one warm-up iteration with a full sync; ' +
      'then K iterations back to back and one full sync, K chosen so the run takes ~budgetMs (at most maxIterations; one iteration longer than the budget is reported as is). ' +
      'GFLOP/s = 2*batch*M*N*K / (wall time / K). Implementations take turns for `rounds` rounds; each reports its best round (all rounds listed). ' +
      'Each implementation runs on its own GPUDevice from the same adapter (see peers.*.adapter).',
    shapes,
    ditTrainingStep,
    failures,
    benchMs: performance.now() - started,
    table,
  };
  engine.destroy();
  return result;
});
