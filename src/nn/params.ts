// Whole-model parameter utilities the SenseFlow recipe needs, all on the GPU without readbacks in the
// training step:
// - cloneParameters: the fake score network starts as a copy of the generator (or the teacher).
// - lerpParameters: IDA (Implicit Distribution Alignment) after each generator update,
//   phi <- idaLambda * phi + (1 - idaLambda) * theta, which keeps the fake score phi near the generator theta.
// - parameterDistance: the metric ||phi_fake - theta_gen||_2 that shows IDA working.
// - gradNorm / clipGradNorm / hasNonFinite: global-norm clipping and the cheap divergence check on a
//   loss or a gradient norm (skip the step when it is 1).
// Modules are paired by their parameters' dotted names (Module.namedParameters).
import gradClipSource from '../kernels/grad_clip.wgsl?raw';
import gradNormSource from '../kernels/grad_norm.wgsl?raw';
import lerpSource from '../kernels/lerp.wgsl?raw';
import nonFiniteSource from '../kernels/non_finite.wgsl?raw';
import type { Engine } from './engine';
import type { Module } from './module';
import { assertF32, launch1d, sameShape } from './ops/common';
import { empty, fromArray, type Tensor } from './tensor';

/** Elements per invocation in the norm and non-finite reductions (see grad_norm.wgsl). */
const CHUNK = 256;

const gradNormKernel = { label: 'grad_norm', code: gradNormSource, params: { n: 'u32', out_offset: 'u32' } } as const;
const gradClipKernel = { label: 'grad_clip', code: gradClipSource, params: { n: 'u32', max_norm: 'f32' } } as const;
const lerpKernel = { label: 'lerp', code: lerpSource, params: { n: 'u32', lambda: 'f32' } } as const;
const nonFiniteKernel = { label: 'non_finite', code: nonFiniteSource, params: { n: 'u32' } } as const;

const formatShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/**
 * The two modules' parameters paired by name, after checking that they have the same names and shapes
 * and live on one engine; throws listing every difference otherwise.
 */
function pairParameters(what: string, a: Module, b: Module, aRole: string, bRole: string): [string, Tensor, Tensor][] {
  if (a.engine !== b.engine) throw new Error(`${what}: the ${aRole} and the ${bRole} are on different engines; build both with one Engine`);
  const bByName = new Map(b.namedParameters());
  const aNames = new Set<string>();
  const pairs: [string, Tensor, Tensor][] = [];
  const problems: string[] = [];
  for (const [name, x] of a.namedParameters()) {
    aNames.add(name);
    const y = bByName.get(name);
    if (!y) problems.push(`parameter "${name}" ${formatShape(x.shape)} of the ${aRole} is missing from the ${bRole}`);
    else if (!sameShape(x.shape, y.shape)) {
      problems.push(`parameter "${name}" has shape ${formatShape(x.shape)} in the ${aRole} but ${formatShape(y.shape)} in the ${bRole}`);
    } else pairs.push([name, x, y]);
  }
  for (const [name, y] of bByName) {
    if (!aNames.has(name)) problems.push(`parameter "${name}" ${formatShape(y.shape)} of the ${bRole} is missing from the ${aRole}`);
  }
  if (problems.length > 0) {
    throw new Error(`${what}: the ${aRole} and the ${bRole} have different architectures; nothing was changed:\n  ${problems.join('\n  ')}`);
  }
  return pairs;
}

/** Copies every parameter of `from` into the same-named parameter of `to` (GPU copies, in command order). */
export function cloneParameters(from: Module, to: Module): void {
  for (const [, source, target] of pairParameters('cloneParameters', from, to, 'source', 'target')) {
    if (source.buffer === target.buffer) continue; // a shared (tied) tensor: already equal, and a self-copy is invalid
    from.engine.copy(source.buffer, target.buffer, source.size * 4);
  }
}

/**
 * IDA, in place: target <- lambda * target + (1 - lambda) * source for every parameter, one kernel per
 * tensor (lerp.wgsl). lambda = 1 leaves the target as it is, lambda = 0 copies the source. Only the
 * parameters move: an optimizer's moments for the target are left as they are, as in the paper.
 */
export function lerpParameters(target: Module, source: Module, lambda: number): void {
  if (!Number.isFinite(lambda) || lambda < 0 || lambda > 1) {
    throw new Error(`lerpParameters: idaLambda must be in [0, 1] (1 keeps the target, 0 copies the source), got ${lambda}`);
  }
  for (const [, phi, theta] of pairParameters('lerpParameters', target, source, 'target', 'source')) {
    // A shared (tied) tensor is its own lerp, and WebGPU refuses one buffer bound for reading and writing.
    if (phi.size === 0 || phi.buffer === theta.buffer) continue;
    launch1d(target.engine, lerpKernel, phi.size, { bindings: [phi.buffer, theta.buffer], params: { n: phi.size, lambda } });
  }
}

/**
 * sqrt(sum over tensors of sum((x - y)^2)) (or of x^2 when no y), as a scalar tensor: one first pass per
 * tensor into a shared buffer of partial sums, then passes of CHUNK down to one value (grad_norm.wgsl).
 */
function globalNorm(engine: Engine, xs: readonly Tensor[], ys: readonly Tensor[] | null, label: string): Tensor {
  const parts = xs.map((t) => Math.ceil(t.size / CHUNK));
  let n = parts.reduce((a, b) => a + b, 0);
  if (n === 0) return fromArray(engine, [], [0], 'f32', label);
  let partials = empty(engine, [n], 'f32', `${label}.partials`);
  let offset = 0;
  xs.forEach((x, k) => {
    if (x.size === 0) return;
    launch1d(engine, gradNormKernel, parts[k]!, {
      bindings: [x.buffer, (ys?.[k] ?? x).buffer, partials.buffer],
      params: { n: x.size, out_offset: offset },
      constants: { CHUNK, SQUARE: 1, SQRT: 0, DIFFERENCE: ys ? 1 : 0 },
    });
    offset += parts[k]!;
  });
  for (;;) {
    const next = Math.ceil(n / CHUNK);
    const last = next === 1;
    const out = empty(engine, last ? [] : [next], 'f32', last ? label : `${label}.partials`);
    launch1d(engine, gradNormKernel, next, {
      bindings: [partials.buffer, partials.buffer, out.buffer],
      params: { n, out_offset: 0 },
      constants: { CHUNK, SQUARE: 0, SQRT: last ? 1 : 0, DIFFERENCE: 0 },
    });
    partials.dispose(); // safe: the pool hands it out again only to commands encoded after this one
    partials = out;
    n = next;
    if (last) return out;
  }
}

/** The .grad of each distinct parameter that has one (a parameter listed twice counts, and is clipped, once). */
function gradients(params: readonly Tensor[], what: string): Tensor[] {
  const grads: Tensor[] = [];
  for (const p of new Set(params)) {
    if (!p.grad) continue;
    assertF32(p.grad, `${what}: gradient of ${p.describe()}`);
    if (p.grad.size !== p.size) throw new Error(`${what}: gradient ${p.grad.describe()} does not match parameter ${p.describe()}`);
    grads.push(p.grad);
  }
  return grads;
}

/** ||phi - theta||_2 over all parameters of two modules of one architecture (one readback). */
export async function parameterDistance(a: Module, b: Module): Promise<number> {
  const pairs = pairParameters('parameterDistance', a, b, 'first module', 'second module');
  const norm = globalNorm(a.engine, pairs.map(([, x]) => x), pairs.map(([, , y]) => y), 'parameter_distance');
  try {
    return await norm.item();
  } finally {
    norm.dispose();
  }
}

/**
 * The global L2 norm of all the parameters' gradients, sqrt(sum of g^2), as a scalar tensor computed on
 * the GPU (no readback). Parameters without a .grad are skipped; with none at all the norm is 0.
 */
export function gradNorm(params: readonly Tensor[]): Tensor {
  const first = params[0];
  if (!first) throw new Error('gradNorm: no parameters given');
  return globalNorm(first.engine, gradients(params, 'gradNorm'), null, 'grad_norm');
}

/**
 * Clips the gradients to a global norm of at most maxNorm, in place: g <- g * min(1, maxNorm / (norm +
 * 1e-6)), with the factor formed on the GPU from the norm buffer (grad_clip.wgsl), so nothing waits on
 * a readback. Returns the norm before clipping (check it with hasNonFinite to skip a diverged step).
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): Tensor {
  if (!Number.isFinite(maxNorm) || maxNorm <= 0) throw new Error(`clipGradNorm: maxNorm must be a positive number, got ${maxNorm}`);
  const norm = gradNorm(params);
  for (const g of gradients(params, 'clipGradNorm')) {
    if (g.size === 0) continue;
    launch1d(norm.engine, gradClipKernel, g.size, { bindings: [norm.buffer, g.buffer], params: { n: g.size, max_norm: maxNorm } });
  }
  return norm;
}

/** A one-element f32 tensor: 1 if t holds any NaN or infinity, else 0 (non_finite.wgsl; no readback). */
export function hasNonFinite(t: Tensor): Tensor {
  assertF32(t, 'hasNonFinite');
  const engine = t.engine;
  if (t.size === 0) return fromArray(engine, [], [0], 'f32', 'has_non_finite');
  let input = t;
  let n = t.size;
  for (let first = true; ; first = false) {
    const next = Math.ceil(n / CHUNK);
    const last = next === 1;
    const out = empty(engine, last ? [] : [next], 'f32', last ? 'has_non_finite' : 'has_non_finite.partials');
    launch1d(engine, nonFiniteKernel, next, { bindings: [input.buffer, out.buffer], params: { n }, constants: { CHUNK, FIRST: first ? 1 : 0 } });
    if (!first) input.dispose();
    input = out;
    n = next;
    if (last) return out;
  }
}
