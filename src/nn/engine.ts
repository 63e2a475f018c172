// The engine: one GPUDevice, a buffer pool, a pipeline cache, and a command stream that batches kernel
// dispatches into one command buffer until something needs the results (a read) or the batch is full.
//
// Ordering: every dispatch, upload and copy is encoded into the same command encoder in call order, and
// the uniform values of a batch are written (queue.writeBuffer) just before it is submitted, so a pooled
// buffer released and reused inside a batch is never overwritten before earlier commands read it.
// Errors: each dispatch is encoded inside a validation scope; the scopes are awaited at the next sync()
// or read(), which throws a GpuError naming the kernel (or a WgslCompileError with the WGSL text).
import type { AdapterReport, Gpu } from '../gpu/device';
import { GpuError, WgslCompileError } from '../gpu/errors';
import { BufferPool, type PoolStats } from '../gpu/pool';
import type { KernelProfiler } from './profiler';

export type ParamType = 'u32' | 'i32' | 'f32';

export interface Kernel {
  label: string;
  code: string;
  /** The fields of the kernel's `Params` uniform struct (binding 0), in declaration order. */
  params?: Readonly<Record<string, ParamType>>;
  entryPoint?: string;
}

export interface Dispatch {
  /** Storage buffers for bindings 1, 2, ... (binding 0 is the Params uniform when the kernel has params). */
  bindings: readonly GPUBuffer[];
  params?: Readonly<Record<string, number>>;
  workgroups: readonly [number, number?, number?];
  /** Values of `override` constants; each distinct set compiles its own pipeline. */
  constants?: Readonly<Record<string, number>>;
}

const UNIFORM_SLOT = 256; // minUniformBufferOffsetAlignment
const UNIFORM_SLOTS = 512; // dispatches per batch before a forced flush

type PendingError = Promise<Error | null>;

export class Engine {
  readonly device: GPUDevice;
  readonly adapter: AdapterReport;
  readonly pool: BufferPool;
  /** Kept so Dawn's instance outlives the device (see gpu/device.ts). */
  private readonly gpu: Gpu;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private readonly uniformData = new ArrayBuffer(UNIFORM_SLOT * UNIFORM_SLOTS);
  private readonly uniformBuffer: GPUBuffer;
  private uniformSlots = 0;
  private pending: PendingError[] = [];
  private stagingToDestroy: GPUBuffer[] = [];
  /** Counts of work done, for tests and benchmarks. */
  readonly counters = { dispatches: 0, submits: 0, reads: 0 };
  /** Set to time every kernel on the GPU (nn/profiler.ts); undefined (the default) costs nothing. */
  profiler: KernelProfiler | undefined;
  /** Set to see every dispatch as it is encoded (nn/profiler.ts replayDispatches); undefined costs nothing. */
  recorder: ((kernel: Kernel, call: Dispatch) => void) | undefined;

  constructor(gpu: Gpu) {
    this.gpu = gpu;
    this.device = gpu.device;
    this.adapter = gpu.adapter;
    this.pool = new BufferPool(this.device);
    this.uniformBuffer = this.device.createBuffer({
      label: 'engine.uniforms',
      size: this.uniformData.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
  }

  /** True on CPU adapters (SwiftShader, llvmpipe), where workgroup barriers are expensive. */
  get isSoftwareAdapter(): boolean {
    const a = this.adapter;
    // Dawn's OpenGL ES adapter on Mesa names llvmpipe only in `device`.
    return a.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe/i.test(`${a.vendor} ${a.architecture} ${a.device} ${a.description}`);
  }

  stats(): PoolStats {
    return this.pool.getStats();
  }

  private pipeline(kernel: Kernel, constants: Readonly<Record<string, number>> | undefined): GPUComputePipeline {
    const key = constants ? `${kernel.label}|${JSON.stringify(constants)}` : kernel.label;
    let pipeline = this.pipelines.get(key);
    if (pipeline) return pipeline;
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ label: kernel.label, code: kernel.code });
    pipeline = this.device.createComputePipeline({
      label: kernel.label,
      layout: 'auto',
      compute: { module, entryPoint: kernel.entryPoint ?? 'main', constants: constants ?? {} },
    });
    this.pending.push(
      this.device.popErrorScope().then(async (error) => {
        if (!error) return null;
        const messages = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
        return messages.length > 0 ? new WgslCompileError(kernel.label, messages, kernel.code) : new GpuError('validation', kernel.label, error.message);
      }),
    );
    this.pipelines.set(key, pipeline);
    return pipeline;
  }

  private commandEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder({ label: 'engine.batch' }));
  }

  dispatch(kernel: Kernel, call: Dispatch): void {
    this.recorder?.(kernel, call);
    const pipeline = this.pipeline(kernel, call.constants);
    if (this.uniformSlots >= UNIFORM_SLOTS) this.flush();
    const entries: GPUBindGroupEntry[] = [];
    let binding = 0;
    if (kernel.params) {
      const offset = this.uniformSlots++ * UNIFORM_SLOT;
      const view = new DataView(this.uniformData, offset, UNIFORM_SLOT);
      let field = 0;
      for (const [name, type] of Object.entries(kernel.params)) {
        const value = call.params?.[name];
        if (value === undefined) throw new Error(`${kernel.label}: missing param "${name}"`);
        if (type === 'f32') view.setFloat32(field * 4, value, true);
        else if (type === 'u32') view.setUint32(field * 4, value, true);
        else view.setInt32(field * 4, value, true);
        field++;
      }
      entries.push({ binding: binding++, resource: { buffer: this.uniformBuffer, offset, size: Math.ceil((field * 4) / 16) * 16 } });
    }
    for (const buffer of call.bindings) entries.push({ binding: binding++, resource: { buffer } });

    const [x, y = 1, z = 1] = call.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const limit = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > limit || y > limit || z > limit) {
      throw new RangeError(`${kernel.label}: ${x}x${y}x${z} workgroups is over this device's ${limit} per dimension`);
    }
    this.device.pushErrorScope('validation');
    const encoder = this.commandEncoder();
    const bindGroup = this.device.createBindGroup({ label: kernel.label, layout: pipeline.getBindGroupLayout(0), entries });
    const pass = encoder.beginComputePass({ label: kernel.label, timestampWrites: this.profiler?.pass(kernel.label) });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.pending.push(this.device.popErrorScope().then((e) => (e ? new GpuError('validation', kernel.label, e.message) : null)));
    this.counters.dispatches++;
  }

  /** A pooled buffer holding `data`, written in command order (see the header). */
  upload(data: Float32Array | Uint32Array, label = 'upload'): GPUBuffer {
    const buffer = this.pool.acquire(data.byteLength, label);
    if (data.byteLength === 0) return buffer;
    const staging = this.device.createBuffer({ label: `${label}.staging`, size: Math.ceil(data.byteLength / 4) * 4, usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
    new Uint8Array(staging.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    staging.unmap();
    this.commandEncoder().copyBufferToBuffer(staging, 0, buffer, 0, staging.size);
    this.stagingToDestroy.push(staging);
    return buffer;
  }

  copy(source: GPUBuffer, target: GPUBuffer, bytes: number, sourceOffset = 0, targetOffset = 0): void {
    if (bytes > 0) this.commandEncoder().copyBufferToBuffer(source, sourceOffset, target, targetOffset, bytes);
  }

  /** Submits what is batched. Cheap when nothing is. */
  flush(): void {
    if (!this.encoder) return;
    if (this.uniformSlots > 0) this.device.queue.writeBuffer(this.uniformBuffer, 0, this.uniformData, 0, this.uniformSlots * UNIFORM_SLOT);
    // A batch holding an invalid command cannot be finished or submitted; that error follows the one
    // the command itself raised (already pending), so it is reported, in order, after it.
    const afterSubmit = this.profiler?.resolve(this.encoder);
    this.device.pushErrorScope('validation');
    this.device.queue.submit([this.encoder.finish()]);
    afterSubmit?.();
    this.pending.push(this.device.popErrorScope().then((e) => (e ? new GpuError('validation', 'engine.batch', e.message) : null)));
    this.counters.submits++;
    this.encoder = null;
    this.uniformSlots = 0;
    for (const staging of this.stagingToDestroy) staging.destroy();
    this.stagingToDestroy = [];
  }

  /** Submits, waits for the GPU, and throws the first error any kernel since the last sync raised. */
  async sync(): Promise<void> {
    this.flush();
    const pending = this.pending;
    this.pending = [];
    const errors = await Promise.all(pending);
    await this.device.queue.onSubmittedWorkDone();
    const error = errors.find((e) => e !== null);
    if (error) throw error;
  }

  /** Reads `count` 32-bit values (as f32 bits) from the start of a buffer. */
  async readBuffer(source: GPUBuffer, count: number): Promise<ArrayBuffer> {
    const bytes = count * 4;
    const staging = this.device.createBuffer({ label: 'engine.readback', size: Math.max(4, bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      this.copy(source, staging, bytes);
      this.counters.reads++;
      await this.sync();
      await staging.mapAsync(GPUMapMode.READ);
      return staging.getMappedRange().slice(0, bytes);
    } finally {
      staging.destroy();
    }
  }

  destroy(): void {
    this.flush();
    this.pool.trim();
    this.uniformBuffer.destroy();
    this.gpu.device.destroy();
  }
}

/** Workgroup counts for a 1D problem of n invocations, spread over y when x would pass the limit. */
export function grid1d(n: number, workgroupSize: number, maxPerDimension = 65535): [number, number] {
  const groups = Math.ceil(n / workgroupSize);
  if (groups <= maxPerDimension) return [groups, 1];
  const y = Math.ceil(groups / maxPerDimension);
  return [Math.ceil(groups / y), y];
}
