// Moving f32 data between the host and GPU buffers. The training engine's pooled tensors (nn/) build on
// these; they are also what a one-off kernel call or a test needs.
import { scoped } from './errors';

export function uploadF32(device: GPUDevice, data: Float32Array, usage: GPUBufferUsageFlags, label = 'upload'): GPUBuffer {
  // Buffer sizes must be multiples of 4 and non-zero; an empty tensor still gets 4 bytes.
  const buffer = device.createBuffer({ label, size: Math.max(4, data.byteLength), usage, mappedAtCreation: true });
  new Float32Array(buffer.getMappedRange(), 0, data.length).set(data);
  buffer.unmap();
  return buffer;
}

/** Copies `count` floats out of a buffer (which needs COPY_SRC usage) through a staging buffer. */
export async function readF32(device: GPUDevice, source: GPUBuffer, count: number, label = 'readback'): Promise<Float32Array> {
  const size = Math.max(4, count * 4);
  const staging = device.createBuffer({ label, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    await scoped(device, label, () => {
      const encoder = device.createCommandEncoder({ label });
      encoder.copyBufferToBuffer(source, 0, staging, 0, size);
      device.queue.submit([encoder.finish()]);
    });
    await staging.mapAsync(GPUMapMode.READ);
    return new Float32Array(staging.getMappedRange().slice(0, count * 4));
  } finally {
    staging.destroy();
  }
}
