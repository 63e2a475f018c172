// The modules as wholes: parameter names (what checkpoints and IDA's lerp address), adaLN-Zero's
// identity at initialisation, multi-head attention against a float64 composition of the references,
// and a checkpoint round trip of a DiT block.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { host, type HostTensor, randn } from '../host';
import { attentionReference } from '../ops/attention';
import { matmulHost } from '../ops/matmul';
import { loadModule, saveModule } from '../safetensors';
import { fromArray, noGrad, tidy } from '../tensor';
import { allclose, testEngine, tolerance } from '../testing';
import { MultiHeadAttention } from './attention';
import { DiTBlock } from './dit';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

async function hostOf(t: { shape: readonly number[]; read(): Promise<Float32Array> }): Promise<HostTensor> {
  return host(t.shape, await t.read());
}

describe('DiTBlock', () => {
  it('names its parameters by path, as checkpoints address them', () => {
    const block = new DiTBlock(engine, 8, 2, { contextDim: 6 });
    const names = block.namedParameters().map(([name]) => name);
    expect(names).toContain('attn.qkv.weight');
    expect(names).toContain('crossAttn.kv.weight');
    expect(names).toContain('mlp.fc1.bias');
    expect(names).toContain('adaLN.weight');
    expect(new Set(names).size).toBe(names.length);
    expect(block.parameterCount()).toBe(block.parameters().reduce((n, p) => n + p.size, 0));
    block.dispose();
  });

  it('is the identity at initialisation without cross-attention (adaLN-Zero gates start at 0)', async () => {
    const block = new DiTBlock(engine, 12, 3, { seed: 4 });
    const x = randn([2, 5, 12], 1);
    const out = tidy(engine, () => noGrad(engine, () => block.forward(fromArray(engine, [2, 5, 12], x.data), fromArray(engine, [2, 12], randn([2, 12], 2).data))));
    expect(Array.from(await out.read())).toEqual(Array.from(Float32Array.from(x.data)));
    out.dispose();
    block.dispose();
  });

  it('round-trips through a safetensors checkpoint', async () => {
    const a = new DiTBlock(engine, 8, 2, { contextDim: 6, seed: 1 });
    const b = new DiTBlock(engine, 8, 2, { contextDim: 6, seed: 2 });
    loadModule(b, await saveModule(a));
    for (const [[name, pa], [, pb]] of a.namedParameters().map((entry, i) => [entry, b.namedParameters()[i]!] as const)) {
      expect(Array.from(await pb.read()), name).toEqual(Array.from(await pa.read()));
    }
    a.dispose();
    b.dispose();
  });
});

describe('MultiHeadAttention', () => {
  // Splits [B, T, parts*H*D] into parts tensors [B, H, T, D], as the module does.
  function splitHeads(x: HostTensor, parts: number, heads: number): HostTensor[] {
    const [batch, tokens, width] = x.shape as [number, number, number];
    const d = width / parts / heads;
    return Array.from({ length: parts }, (_, p) => {
      const out = host([batch, heads, tokens, d]);
      for (let b = 0; b < batch; b++)
        for (let h = 0; h < heads; h++)
          for (let t = 0; t < tokens; t++)
            for (let i = 0; i < d; i++) out.data[((b * heads + h) * tokens + t) * d + i] = x.data[(b * tokens + t) * width + (p * heads + h) * d + i]!;
      return out;
    });
  }

  function mergeHeads(x: HostTensor): HostTensor {
    const [batch, heads, tokens, d] = x.shape as [number, number, number, number];
    const out = host([batch, tokens, heads * d]);
    for (let b = 0; b < batch; b++)
      for (let h = 0; h < heads; h++)
        for (let t = 0; t < tokens; t++)
          for (let i = 0; i < d; i++) out.data[(b * tokens + t) * heads * d + h * d + i] = x.data[((b * heads + h) * tokens + t) * d + i]!;
    return out;
  }

  function linearHost(x: HostTensor, w: HostTensor, b: HostTensor): HostTensor {
    const y = matmulHost(x, w);
    const width = b.data.length;
    return { shape: y.shape, data: y.data.map((v, i) => v + b.data[i % width]!) };
  }

  it('cross-attention with a padding mask equals the float64 composition of its parts', async () => {
    const [B, T, S, C, Cctx, H] = [2, 5, 4, 12, 7, 3];
    const module = new MultiHeadAttention(engine, C, H, { contextDim: Cctx, seed: 3 });
    const x = randn([B, T, C], 5);
    const context = randn([B, S, Cctx], 6);
    const mask = host([B, S], [1, 1, 1, 0, 1, 0, 0, 0]);
    const out = tidy(engine, () =>
      noGrad(engine, () => module.forward(fromArray(engine, [B, T, C], x.data), fromArray(engine, [B, S, Cctx], context.data), fromArray(engine, [B, S], mask.data))),
    );
    const [qw, qb, kvw, kvb, ow, ob] = await Promise.all(module.parameters().map(hostOf));
    const [q] = splitHeads(linearHost(x, qw!, qb!), 1, H);
    const [k, v] = splitHeads(linearHost(context, kvw!, kvb!), 2, H);
    const attended = attentionReference({ hasMask: true }).forward([q!, k!, v!, mask]);
    const expected = linearHost(mergeHeads(attended), ow!, ob!);
    expect(out.shape).toEqual([B, T, C]);
    allclose(await out.read(), expected.data, tolerance(C), 'attention module vs float64');
    out.dispose();
    module.dispose();
  });

  it('refuses a width the heads do not divide', () => {
    expect(() => new MultiHeadAttention(engine, 10, 3)).toThrow('attention: dim 10 is not divisible by 3 heads');
  });
});
