// The harness proof in Node: each software adapter Dawn offers here compiles and runs WGSL correctly,
// bad kernels fail with the WGSL text, and device loss is reported.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from './device';
import { createComputePipeline, GpuError, scoped, WgslCompileError } from './errors';
import { acquireNodeGpu, type NodeAdapterKind } from './node';
import { runSaxpy, runSelfTest, saxpyReference } from './selftest';

// SwiftShader first: Dawn opens the Vulkan loader once, and it must see VK_ICD_FILENAMES when it does.
const ADAPTERS: NodeAdapterKind[] = ['swiftshader', 'llvmpipe'];

describe.each(ADAPTERS)('Dawn on %s', (kind) => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await acquireNodeGpu(kind);
  });
  afterAll(() => gpu?.device.destroy());

  it('describes the adapter and grants the limits we asked for', () => {
    expect(gpu.adapter.source).toBe(`dawn/${kind}`);
    expect(gpu.adapter.vendor.length).toBeGreaterThan(0);
    expect(gpu.device.limits.maxStorageBufferBindingSize).toBe(gpu.adapter.limits.maxStorageBufferBindingSize);
    expect(gpu.device.limits.maxComputeInvocationsPerWorkgroup).toBe(gpu.adapter.limits.maxComputeInvocationsPerWorkgroup);
  });

  it('runs saxpy on a length that is not a multiple of the workgroup size', async () => {
    const result = await runSelfTest(gpu.device, 1000);
    expect(result.ok, `max error ${result.maxAbsError}`).toBe(true);
  });

  it('writes nothing past the end of the data', async () => {
    // 65 elements = one full workgroup and one lone invocation: the guard must stop the other 63.
    const x = new Float32Array(65).fill(1);
    const y = new Float32Array(65).fill(2);
    const out = await runSaxpy(gpu.device, 3, x, y);
    expect(Array.from(out)).toEqual(Array.from(saxpyReference(3, x, y)));
  });

  it('fails a kernel that does not compile with the WGSL error, line and source', async () => {
    const code = '@compute @workgroup_size(1)\nfn main() {\n  let v = undefined_thing + 1.0;\n}\n';
    const attempt = createComputePipeline(gpu.device, { label: 'broken-kernel', code });
    await expect(attempt).rejects.toBeInstanceOf(WgslCompileError);
    await expect(attempt).rejects.toThrow(/broken-kernel[\s\S]*3:\d+[\s\S]*undefined_thing/);
  });

  it('fails a dispatch with a validation error naming the call', async () => {
    const pipeline = await createComputePipeline(gpu.device, {
      label: 'needs-storage',
      code: '@group(0) @binding(0) var<storage, read_write> v: array<f32>;\n@compute @workgroup_size(1) fn main() { v[0] = 1.0; }',
    });
    // A uniform buffer bound where a storage buffer is declared.
    const wrong = gpu.device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM });
    const attempt = scoped(gpu.device, 'bind-wrong-usage', () =>
      gpu.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: wrong } }] }),
    );
    await expect(attempt).rejects.toBeInstanceOf(GpuError);
    await expect(attempt).rejects.toThrow(/bind-wrong-usage: GPU validation error: .*(usage|Usage)/s);
    wrong.destroy();
  });
});

describe('device loss', () => {
  it('is reported to the onLost callback with its reason', async () => {
    let reported: GPUDeviceLostInfo | undefined;
    const gpu = await acquireNodeGpu('swiftshader', { onLost: (info) => (reported = info) });
    gpu.device.destroy();
    const info = await gpu.lost;
    expect(info.reason).toBe('destroyed');
    expect(reported).toBe(info);
  });
});
