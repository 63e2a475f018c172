// The engine's own guarantees: kernel errors surface with the WGSL text, pooled buffers are reused and
// accounted, tidy() frees what it should and keeps what it returns, views share storage safely, a buffer
// released and reused inside one batch keeps its old contents for the commands encoded before, and
// gradients accumulate into parameters.
import { beforeAll, describe, expect, it } from 'vitest';
import { GpuError, WgslCompileError } from '../gpu/errors';
import { sizeClass } from '../gpu/pool';
import type { Engine } from './engine';
import { add, mul, scale } from './ops/elementwise';
import { sum } from './ops/reduce';
import { backward, empty, fromArray, keep, parameter, tidy } from './tensor';
import { testEngine } from './testing';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

describe('kernel errors', () => {
  it('a kernel that does not compile fails the next sync with the WGSL message and line', async () => {
    const kernel = { label: 'broken-on-purpose', code: '@compute @workgroup_size(1)\nfn main() {\n  let v = nope;\n}\n' };
    engine.dispatch(kernel, { bindings: [], workgroups: [1] });
    const sync = engine.sync();
    await expect(sync).rejects.toBeInstanceOf(WgslCompileError);
    await expect(sync).rejects.toThrow(/broken-on-purpose[\s\S]*3:\d+[\s\S]*nope/);
  });

  it('a dispatch with a wrong binding fails the next sync naming the kernel', async () => {
    const kernel = {
      label: 'needs-two-buffers',
      code: '@group(0) @binding(0) var<storage, read> a: array<f32>;\n@group(0) @binding(1) var<storage, read_write> b: array<f32>;\n@compute @workgroup_size(1) fn main() { b[0] = a[0]; }',
    };
    const t = fromArray(engine, [1], [1]);
    engine.dispatch(kernel, { bindings: [t.buffer], workgroups: [1] });
    await expect(engine.sync()).rejects.toThrow(GpuError);
    t.dispose();
    await engine.sync(); // the engine is usable afterwards
  });
});

describe('buffer pool', () => {
  it('reuses a released buffer of the same size class and accounts live and peak bytes', async () => {
    await engine.sync();
    const before = engine.stats();
    const a = empty(engine, [100]);
    const afterOne = engine.stats();
    expect(afterOne.liveBytes - before.liveBytes).toBe(sizeClass(400));
    a.dispose();
    const b = empty(engine, [90]); // same 512-byte class
    const afterReuse = engine.stats();
    expect(afterReuse.reused).toBe(afterOne.reused + 1);
    expect(afterReuse.created).toBe(afterOne.created);
    b.dispose();
    expect(engine.stats().liveBytes).toBe(before.liveBytes);
    expect(engine.stats().peakLiveBytes).toBeGreaterThanOrEqual(before.liveBytes + sizeClass(400));
  });

  it('refuses a tensor larger than the device allows, with the sizes', () => {
    expect(() => empty(engine, [engine.device.limits.maxBufferSize / 4 + 1024], 'f32', 'huge')).toThrow(/huge: \d+ bytes is over this device's maxBufferSize/);
  });
});

describe('lifetimes', () => {
  it('tidy disposes temporaries and keeps what it returns', async () => {
    const live = engine.stats().liveBytes;
    const kept = tidy(engine, () => {
      const a = fromArray(engine, [3], [1, 2, 3]);
      const b = scale(a, 2);
      return add(a, b);
    });
    expect(Array.from(await kept.read())).toEqual([3, 6, 9]);
    expect(engine.stats().liveBytes - live).toBe(sizeClass(12));
    kept.dispose();
    expect(engine.stats().liveBytes).toBe(live);
  });

  it('a view returned from tidy keeps its base storage alive; the last owner frees it', async () => {
    const live = engine.stats().liveBytes;
    const view = tidy(engine, () => fromArray(engine, [2, 3], [1, 2, 3, 4, 5, 6]).view([3, 2]));
    expect(Array.from(await view.read())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(view.shape).toEqual([3, 2]);
    view.dispose();
    expect(engine.stats().liveBytes).toBe(live);
  });

  it('using a disposed tensor names it', () => {
    const t = fromArray(engine, [2], [1, 2], 'f32', 'gone');
    t.dispose();
    expect(() => t.buffer).toThrow('tensor gone[2] used after dispose()');
  });
});

it('a buffer released and reused within one batch does not change what earlier commands read', async () => {
  // a -> b = 2a is encoded; a is released and its buffer reused for new data before anything is submitted.
  const b = tidy(engine, () => {
    const a = fromArray(engine, [64], Array.from({ length: 64 }, (_, i) => i));
    const doubled = scale(a, 2);
    a.dispose();
    fromArray(engine, [64], new Array(64).fill(-1000)); // likely gets a's buffer back
    return doubled;
  });
  expect(Array.from(await b.read())).toEqual(Array.from({ length: 64 }, (_, i) => 2 * i));
  b.dispose();
});

describe('autograd', () => {
  it('accumulates into a parameter used twice, and across two backward passes', async () => {
    const w = parameter(engine, [3], [1, 2, 3], 'w');
    const x = fromArray(engine, [3], [4, 5, 6]);
    // L = sum(w * x + w * w): dL/dw = x + 2w
    tidy(engine, () => {
      backward(sum(add(mul(w, x), mul(w, w))));
    });
    expect(Array.from(await w.grad!.read())).toEqual([6, 9, 12]);
    tidy(engine, () => {
      backward(sum(mul(w, x)));
    });
    expect(Array.from(await w.grad!.read())).toEqual([10, 14, 18]);
    w.dispose();
    x.dispose();
  });

  it('records nothing for tensors that need no gradient', async () => {
    const x = keep(fromArray(engine, [2], [1, 2]));
    const y = tidy(engine, () => scale(x, 3));
    expect(y.requiresGrad).toBe(false);
    y.dispose();
    x.dispose();
  });
});
