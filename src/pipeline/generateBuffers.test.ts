// The WebGPU pipeline's pre-allocated output buffers (generateBuffers.ts) on Dawn in Node: one buffer per slot and
// size, handed out again; a tensor over one reads back what the GPU wrote (sizes that are not a multiple of 16 bytes
// too); the oldest size of a slot is dropped past MAX_SIZES_PER_SLOT; nothing is handed out after release. ORT's
// session.run writing into these buffers is checked in the browser (generateWebgpu.test.ts): Node's ORT has no WebGPU.
import * as ortModule from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/device';
import { acquireNodeGpu } from '../gpu/node';
import type { Ort } from '../onnx/exportOrt';
import { GpuOutputs, MAX_SIZES_PER_SLOT } from './generateBuffers';

/** ORT as the pool sees it: its Tensor class, and env.webgpu.device (here Dawn's device instead of ORT's own). */
const ortOn = (device: GPUDevice | undefined) => ({ ...ortModule, env: { webgpu: { device: Promise.resolve(device) } } }) as unknown as Ort;

describe('GpuOutputs (Dawn)', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await acquireNodeGpu();
  });
  afterAll(() => gpu?.device.destroy());

  it('hands out one buffer per slot and size, again and again', async () => {
    const outputs = await GpuOutputs.create(ortOn(gpu.device));
    const a = outputs.tensor('x.a', [2, 3, 4, 4]);
    expect(a.location).toBe('gpu-buffer');
    expect(a.dims).toEqual([2, 3, 4, 4]);
    expect(outputs.tensor('x.a', [2, 3, 4, 4]).gpuBuffer).toBe(a.gpuBuffer);
    expect(outputs.tensor('x.a', [6, 4, 4]).gpuBuffer).toBe(a.gpuBuffer); // same bytes, other dims: the same buffer
    expect(outputs.tensor('x.b', [2, 3, 4, 4]).gpuBuffer).not.toBe(a.gpuBuffer);
    expect(outputs.tensor('x.a', [1, 3, 4, 4]).gpuBuffer).not.toBe(a.gpuBuffer);
    expect(outputs.created).toBe(3);
    outputs.release();
  });

  it('reads back what the GPU wrote, for sizes that are not a multiple of 16 bytes', async () => {
    const outputs = await GpuOutputs.create(ortOn(gpu.device));
    for (const count of [1, 7, 12, 1000]) {
      const tensor = outputs.tensor('x0', [count]);
      const values = Float32Array.from({ length: count }, (_, i) => Math.sin(i + count) * 3);
      gpu.device.queue.writeBuffer(tensor.gpuBuffer as GPUBuffer, 0, values);
      const read = (await tensor.getData()) as Float32Array;
      expect(read).toBeInstanceOf(Float32Array);
      expect(Array.from(read)).toEqual(Array.from(values));
    }
    outputs.release();
  });

  it(`keeps at most ${MAX_SIZES_PER_SLOT} sizes per slot, dropping the oldest`, async () => {
    const outputs = await GpuOutputs.create(ortOn(gpu.device));
    const first = outputs.tensor('prediction', [1]).gpuBuffer;
    for (let n = 2; n <= MAX_SIZES_PER_SLOT; n++) outputs.tensor('prediction', [n]);
    expect(outputs.tensor('prediction', [1]).gpuBuffer).toBe(first); // still kept
    outputs.tensor('prediction', [MAX_SIZES_PER_SLOT + 1]); // one size too many: [1] goes
    expect(outputs.created).toBe(MAX_SIZES_PER_SLOT + 1);
    expect(outputs.tensor('prediction', [1]).gpuBuffer).not.toBe(first);
    expect(outputs.created).toBe(MAX_SIZES_PER_SLOT + 2);
    outputs.release();
  });

  it('refuses use after release, and a missing device with a message', async () => {
    const outputs = await GpuOutputs.create(ortOn(gpu.device));
    outputs.release();
    expect(() => outputs.tensor('x0', [4])).toThrow('GpuOutputs: used after release()');
    await expect(GpuOutputs.create(ortOn(undefined))).rejects.toThrow("ORT's WebGPU device is not available (create a WebGPU session first)");
  });
});
