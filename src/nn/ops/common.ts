// What every op module shares: shape checks, output allocation, and the 1D launch used by
// elementwise kernels.
import { type Dispatch, type Engine, grid1d, type Kernel } from '../engine';
import { empty, type Tensor } from '../tensor';

export const WORKGROUP_SIZE = 64;

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertShape(t: Tensor, shape: readonly number[], what: string): void {
  if (!sameShape(t.shape, shape)) throw new Error(`${what}: expected [${shape.join(', ')}], got ${t.describe()}`);
}

export function assertF32(t: Tensor, what: string): void {
  if (t.dtype !== 'f32') throw new Error(`${what}: expected an f32 tensor, got ${t.dtype} ${t.describe()}`);
}

export function output(engine: Engine, shape: readonly number[], label: string): Tensor {
  return empty(engine, shape, 'f32', label);
}

/** Dispatches one invocation per element of an n-element problem (WORKGROUP_SIZE per workgroup). */
export function launch1d(engine: Engine, kernel: Kernel, n: number, call: Omit<Dispatch, 'workgroups'>): void {
  const workgroups = grid1d(n, WORKGROUP_SIZE, engine.device.limits.maxComputeWorkgroupsPerDimension);
  engine.dispatch(kernel, { ...call, workgroups, constants: { WORKGROUP_SIZE, ...call.constants } });
}

/** Left-pads a shape or strides to rank 6 (the rank our index kernels unroll). */
export function pad6(values: readonly number[], fill: number): number[] {
  if (values.length > 6) throw new Error(`rank ${values.length} is over the supported 6`);
  return [...new Array<number>(6 - values.length).fill(fill), ...values];
}

/**
 * CPU adapters. engine.isSoftwareAdapter misses Dawn's llvmpipe, whose description is "OpenGL ES 3.2 Mesa ..."
 * and whose name is only in `device`, so that is checked here too. Kernels choose between a barrier-free form
 * (cheap on CPUs) and a more parallel one (needed on GPUs) with it.
 */
export function isCpuAdapter(engine: Engine): boolean {
  return engine.isSoftwareAdapter || /swiftshader|llvmpipe|lavapipe|softpipe/i.test(engine.adapter.device);
}
