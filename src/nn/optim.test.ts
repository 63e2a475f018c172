import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from './engine';
import { randn, toF32 } from './host';
import { init, Module } from './module';
import { AdamW, type AdamWOptions, adamwStepReference } from './optim';
import { cloneParameters } from './params';
import { parseSafetensors, serializeSafetensors } from './safetensors';
import { fromArray, parameter, type Tensor, tidy } from './tensor';
import { allclose, testEngine, type Tolerance } from './testing';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

class Layer extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(engine: Engine, seed: number) {
    super(engine);
    this.weight = this.param('weight', [7, 67], init.normal([7, 67], 1, seed)); // 469: not a multiple of 64
    this.bias = this.param('bias', [67], init.normal([67], 0.1, seed + 1));
  }
}

class Net extends Module {
  readonly gain: Tensor;
  readonly layer: Layer;
  constructor(engine: Engine, seed: number) {
    super(engine);
    this.gain = this.param('gain', [], [1.25]);
    this.layer = this.child('layer', new Layer(engine, seed));
  }
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** f32 update vs float64 reference: |p| ~ 1 rounds at 6e-8 per step; the update itself is ~lr. */
const TOLERANCE: Tolerance = { atol: 2e-6, rtol: 1e-5 };

function setGrads(params: readonly Tensor[], seed: number): Float64Array[] {
  return params.map((p, i) => {
    const g = toF32(randn([...p.shape], seed * 100 + i)).data;
    p.grad?.dispose();
    p.grad = fromArray(engine, p.shape, g, 'f32', `${p.label}.grad`);
    return g;
  });
}

describe('AdamW', () => {
  it('matches the float64 reference over 5 steps with weight decay, a changed lr and a parameter without a gradient', async () => {
    const net = new Net(engine, 1);
    const options: AdamWOptions = { lr: 0.01, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1 };
    const optimizer = new AdamW(engine, net, options);
    const named = net.namedParameters();
    const reference = await Promise.all(
      named.map(async ([, t]) => ({ p: Float64Array.from(await t.read()), m: new Float64Array(t.size), v: new Float64Array(t.size), step: 0 })),
    );
    for (let step = 1; step <= 5; step++) {
      if (step === 4) optimizer.lr = 0.005;
      // "gain" gets no gradient on steps 1 and 2: it must not move, and its bias correction starts at its own first update.
      const trained = named.filter(([name]) => name !== 'gain' || step > 2);
      optimizer.zeroGrad();
      const grads = setGrads(trained.map(([, t]) => t), step);
      // Inside tidy, as a training step runs: the moments created here must survive it.
      tidy(engine, () => optimizer.step());
      trained.forEach(([name], k) => {
        const r = reference[named.findIndex(([n]) => n === name)]!;
        adamwStepReference(r.p, grads[k]!, r.m, r.v, ++r.step, { ...options, lr: optimizer.lr });
      });
      for (const [k, [name, t]] of named.entries()) allclose(await t.read(), reference[k]!.p, TOLERANCE, `step ${step}: ${name}`);
    }
    expect(optimizer.stepCount).toBe(5);
    const state = await optimizer.state();
    expect(state.step).toBe(5);
    expect(state.steps).toEqual({ gain: 3, 'layer.weight': 5, 'layer.bias': 5 });
    for (const [k, [name]] of named.entries()) {
      allclose(state.moments[`${name}.exp_avg`]!.data, reference[k]!.m, TOLERANCE, `${name} m`);
      allclose(state.moments[`${name}.exp_avg_sq`]!.data, reference[k]!.v, TOLERANCE, `${name} v`);
    }
    optimizer.dispose();
    net.dispose();
  });

  it('zeroGrad disposes the gradients', () => {
    const p = parameter(engine, [3], [1, 2, 3], 'p');
    const optimizer = new AdamW(engine, [p], { lr: 1 });
    const [g] = [(p.grad = fromArray(engine, [3], [1, 1, 1]))];
    optimizer.zeroGrad();
    expect(p.grad).toBeNull();
    expect(g.isDisposed).toBe(true);
    p.dispose();
  });

  it('resumes from a checkpoint (state -> safetensors -> loadState) on exactly the same trajectory', async () => {
    const a = new Net(engine, 2);
    const b = new Net(engine, 3);
    const options: AdamWOptions = { lr: 0.02, weightDecay: 0.05 };
    const optA = new AdamW(engine, a, options);
    for (let step = 1; step <= 2; step++) {
      setGrads(a.parameters(), step);
      optA.step();
    }
    const state = await optA.state();
    const file = serializeSafetensors(state.moments, { step: String(state.step), steps: JSON.stringify(state.steps) });
    const parsed = parseSafetensors(file);
    cloneParameters(a, b);
    const optB = new AdamW(engine, b, options);
    optB.loadState({ step: Number(parsed.metadata.step), steps: JSON.parse(parsed.metadata.steps!), moments: parsed.tensors });
    expect(optB.stepCount).toBe(2);
    for (const net of [a, b]) setGrads(net.parameters(), 3);
    optA.step();
    optB.step();
    const [pa, pb] = [await Promise.all(a.parameters().map((t) => t.read())), await Promise.all(b.parameters().map((t) => t.read()))];
    expect(pb.map(bits)).toEqual(pa.map(bits));
    for (const x of [optA, optB, a, b]) x.dispose();
  });

  it('loadState refuses a state that does not fit, naming the moment and both shapes, and loads nothing', async () => {
    const net = new Net(engine, 4);
    const optimizer = new AdamW(engine, net, { lr: 0.1 });
    setGrads(net.parameters(), 1);
    optimizer.step();
    const good = await optimizer.state();
    const bad = { ...good, steps: { ...good.steps }, moments: { ...good.moments, 'layer.bias.exp_avg_sq': { shape: [66], data: new Float32Array(66) } } };
    expect(() => optimizer.loadState(bad)).toThrow('moment "layer.bias.exp_avg_sq": expected shape [67], found [66] with 66 values');
    expect(() => optimizer.loadState({ ...good, steps: { ...good.steps, 'head.weight': 1 } })).toThrow('moments for "head.weight", which this optimizer does not train');
    const unexpected = { ...good, moments: { ...good.moments, 'gain.velocity': { shape: [], data: new Float32Array(1) } } };
    expect(() => optimizer.loadState(unexpected)).toThrow('unexpected moment "gain.velocity"');
    const after = await optimizer.state();
    expect(after.steps).toEqual(good.steps);
    for (const [name, m] of Object.entries(good.moments)) expect(bits(after.moments[name]!.data), name).toEqual(bits(m.data));
    optimizer.dispose();
    net.dispose();
  });

  it('refuses bad options and bad parameter lists with a message saying what to do', () => {
    const p = parameter(engine, [2], [1, 2], 'p');
    expect(() => new AdamW(engine, [p], { lr: -1 })).toThrow('lr must be a finite number >= 0, got -1');
    expect(() => new AdamW(engine, [p], { lr: 0.1, beta2: 1 })).toThrow('beta2 must be in [0, 1), got 1');
    expect(() => new AdamW(engine, [p, p], { lr: 0.1 })).toThrow('"1" p[2] is listed twice');
    tidy(engine, () => {
      expect(() => new AdamW(engine, [fromArray(engine, [2], [1, 2], 'f32', 'x')], { lr: 0.1 })).toThrow('"0" x[2] is not a parameter');
    });
    const optimizer = new AdamW(engine, [p], { lr: 0.1 });
    expect(() => (optimizer.lr = Number.NaN)).toThrow('lr must be a finite number');
    expect(optimizer.lr).toBe(0.1);
    p.dispose();
  });
});
