// A self-test that proves a device can compile and run our WGSL and return correct numbers:
// saxpy on a length that is not a multiple of the workgroup size, checked against the CPU.
// The System panel runs it on the user's adapter; the Node and browser tests run it on theirs.
import saxpySource from '../kernels/saxpy.wgsl?raw';
import { readF32, uploadF32 } from './buffers';
import { createComputePipeline, scoped } from './errors';

export interface SelfTestResult {
  ok: boolean;
  n: number;
  maxAbsError: number;
  /** Wall time of compile + upload + dispatch + readback, for the user's information only. */
  ms: number;
}

const WORKGROUP_SIZE = 64;

export function saxpyReference(a: number, x: Float32Array, y: Float32Array): Float32Array {
  return y.map((yi, i) => Math.fround(Math.fround(a * x[i]!) + yi));
}

export async function runSaxpy(device: GPUDevice, a: number, x: Float32Array, y: Float32Array): Promise<Float32Array> {
  const n = x.length;
  const pipeline = await createComputePipeline(device, {
    label: 'saxpy',
    code: saxpySource,
    constants: { WORKGROUP_SIZE },
  });
  const params = device.createBuffer({ label: 'saxpy.params', size: 8, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const paramData = new ArrayBuffer(8);
  new Uint32Array(paramData, 0, 1)[0] = n;
  new Float32Array(paramData, 4, 1)[0] = a;
  device.queue.writeBuffer(params, 0, paramData);
  const xBuffer = uploadF32(device, x, GPUBufferUsage.STORAGE, 'saxpy.x');
  const yBuffer = uploadF32(device, y, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'saxpy.y');
  try {
    await scoped(device, 'saxpy dispatch', () => {
      const bindGroup = device.createBindGroup({
        label: 'saxpy',
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: params } },
          { binding: 1, resource: { buffer: xBuffer } },
          { binding: 2, resource: { buffer: yBuffer } },
        ],
      });
      const encoder = device.createCommandEncoder({ label: 'saxpy' });
      const pass = encoder.beginComputePass({ label: 'saxpy' });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(Math.ceil(n / WORKGROUP_SIZE));
      pass.end();
      device.queue.submit([encoder.finish()]);
    });
    return await readF32(device, yBuffer, n, 'saxpy.readback');
  } finally {
    params.destroy();
    xBuffer.destroy();
    yBuffer.destroy();
  }
}

export async function runSelfTest(device: GPUDevice, n = 1000): Promise<SelfTestResult> {
  const start = performance.now();
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
  const y = Float32Array.from({ length: n }, (_, i) => (i % 7) - 3.5);
  const a = 1.75;
  const actual = await runSaxpy(device, a, x, y);
  const expected = saxpyReference(a, x, y);
  let maxAbsError = 0;
  for (let i = 0; i < n; i++) maxAbsError = Math.max(maxAbsError, Math.abs(actual[i]! - expected[i]!));
  // The GPU may fuse a*x+y into one rounding where the reference rounds twice: values are below 16 in
  // magnitude, so a few ulp (ulp(16) = 1.9e-6) is the most an honest kernel can be off.
  return { ok: maxAbsError <= 4e-6, n, maxAbsError, ms: performance.now() - start };
}
