// Pre-allocated output buffers for the WebGPU pipeline: the denoiser's prediction and the step graph's two outputs
// are written by ORT into GPU buffers this pool made once and hands out again on every step and every generation
// of the same shape, instead of ORT allocating (and later freeing) fresh ones per call. The image being denoised
// ping-pongs between two buffers (a step's input is never its output buffer). Only the x0 estimate is ever read:
// `download` copies it to a mapped staging buffer, as ORT does for its own outputs.
//
//   const outputs = await GpuOutputs.create(ort);
//   const fetches = { velocity: outputs.tensor('prediction', [2, 3, 32, 32]) };   // same buffer every step
//   ... session.run(feeds, fetches) ... outputs.release();
//
// A tensor from here is a view: disposing it leaves the buffer in the pool. It stays valid until the next call that
// asks for the same slot (the caller reads or hands on a result before the next step writes its slot), and until
// release(), which destroys every buffer. Buffers are keyed by slot and byte size: a new batch size adds a buffer
// (MAX_SIZES_PER_SLOT sizes per slot are kept, the oldest destroyed first).
import type { Ort } from '../onnx/exportOrt';

type OrtTensor = InstanceType<Ort['Tensor']>;

/** Sizes kept per slot: a few batch sizes in turn do not reallocate, a long session does not grow without bound. */
export const MAX_SIZES_PER_SLOT = 4;

export class GpuOutputs {
  /** slot -> (bytes -> buffer), in order of first use. */
  private readonly slots = new Map<string, Map<number, GPUBuffer>>();
  private released = false;
  /** Buffers created so far (a test and the bench read it: steady state means no new ones). */
  created = 0;

  private constructor(
    private readonly ort: Ort,
    private readonly device: GPUDevice,
  ) {}

  /** The pool on ORT's own WebGPU device (call after a WebGPU session exists, so ORT has made its device). */
  static async create(ort: Ort): Promise<GpuOutputs> {
    const device = await ort.env.webgpu.device;
    if (!device) throw new Error("ORT's WebGPU device is not available (create a WebGPU session first)");
    return new GpuOutputs(ort, device as GPUDevice);
  }

  /** A float32 tensor of `dims` over the slot's buffer of that size. */
  tensor(slot: string, dims: readonly number[]): OrtTensor {
    if (this.released) throw new Error('GpuOutputs: used after release()');
    const bytes = dims.reduce((a, b) => a * b, 1) * 4;
    const buffer = this.buffer(slot, bytes);
    return this.ort.Tensor.fromGpuBuffer(buffer as never, {
      dataType: 'float32',
      dims,
      download: () => this.download(buffer, bytes),
    }) as OrtTensor;
  }

  private buffer(slot: string, bytes: number): GPUBuffer {
    let sizes = this.slots.get(slot);
    if (!sizes) this.slots.set(slot, (sizes = new Map()));
    let buffer = sizes.get(bytes);
    if (!buffer) {
      if (sizes.size >= MAX_SIZES_PER_SLOT) {
        const [oldest, old] = sizes.entries().next().value!;
        old.destroy();
        sizes.delete(oldest);
      }
      // ORT's WebGPU EP reads and writes storage buffers and copies to and from them; sizes in multiples of 16.
      buffer = this.device.createBuffer({
        label: `pipeline.${slot}.${bytes}`,
        size: Math.ceil(bytes / 16) * 16,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      sizes.set(bytes, buffer);
      this.created++;
    }
    return buffer;
  }

  private async download(buffer: GPUBuffer, bytes: number): Promise<Float32Array> {
    const size = Math.ceil(bytes / 16) * 16;
    const staging = this.device.createBuffer({ label: 'pipeline.read', size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const encoder = this.device.createCommandEncoder({ label: 'pipeline.read' });
      encoder.copyBufferToBuffer(buffer, 0, staging, 0, size);
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      return new Float32Array(staging.getMappedRange().slice(0, bytes));
    } finally {
      staging.destroy();
    }
  }

  /** Destroys every buffer; tensors handed out before become invalid. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const sizes of this.slots.values()) for (const buffer of sizes.values()) buffer.destroy();
    this.slots.clear();
  }
}
