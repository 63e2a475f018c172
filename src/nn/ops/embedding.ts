// Embedding lookup: ids u32 [...S] (values < V), table f32 [V, D] -> out f32 [...S, D].
// The gradient goes to the table only: dtable[v] = sum of dy's rows at the positions holding v, built
// without float atomics by per-row linked lists (embedding_backward.wgsl, which gives the costs).
// Out-of-range ids: embedding() cannot see the ids without a GPU round trip, so it checks dtypes and
// shapes only; in the kernels an id >= V reads nothing, yields a zero row and receives no gradient.
// Call validateIds() (one read back) where ids come from outside, e.g. once per dataset batch in tests.
import forwardSource from '../../kernels/embedding.wgsl?raw';
import backwardSource from '../../kernels/embedding_backward.wgsl?raw';
import { host, type HostTensor } from '../host';
import type { Reference } from '../testing';
import { empty, record, type Tensor } from '../tensor';
import { assertF32, launch1d, output } from './common';

const forwardKernel = { label: 'embedding', code: forwardSource, params: { n: 'u32', vocab: 'u32', dim: 'u32' } } as const;
const backwardKernel = { label: 'embedding_backward', code: backwardSource, params: { n: 'u32', vocab: 'u32', positions: 'u32', dim: 'u32' } } as const;
const PASS = { clear: 0, link: 1, accumulate: 2 } as const;

function checkInputs(ids: Tensor, table: Tensor): void {
  if (ids.dtype !== 'u32') throw new Error(`embedding: ids must be u32, got ${ids.dtype} ${ids.describe()}`);
  assertF32(table, 'embedding: table');
  if (table.rank !== 2) throw new Error(`embedding: table: expected [vocab, dim], got ${table.describe()}`);
}

export function embedding(ids: Tensor, table: Tensor): Tensor {
  checkInputs(ids, table);
  const [vocab, dim] = table.shape as [number, number];
  const out = output(ids.engine, [...ids.shape, dim], 'embedding');
  launch1d(ids.engine, forwardKernel, out.size, { bindings: [ids.buffer, table.buffer, out.buffer], params: { n: out.size, vocab, dim } });
  return record(out, [ids, table], (dy) => [null, table.requiresGrad ? embeddingBackward(ids, dy, vocab, dim) : null]);
}

function embeddingBackward(ids: Tensor, dy: Tensor, vocab: number, dim: number): Tensor {
  const engine = ids.engine;
  const positions = ids.size;
  const head = empty(engine, [vocab], 'u32', 'embedding.head');
  const next = empty(engine, [positions], 'u32', 'embedding.next');
  const dtable = output(engine, [vocab, dim], 'embedding.backward');
  const bindings = [head.buffer, ids.buffer, next.buffer, dy.buffer, dtable.buffer];
  for (const [pass, n] of [
    [PASS.clear, vocab],
    [PASS.link, positions],
    [PASS.accumulate, vocab * dim],
  ] as const) {
    launch1d(engine, backwardKernel, n, { bindings, params: { n, vocab, positions, dim }, constants: { PASS: pass } });
  }
  // Safe before the passes run: the pool hands these buffers out again only to later commands.
  head.dispose();
  next.dispose();
  return dtable;
}

/** Reads the ids back (a GPU round trip) and throws, naming the first offender, unless every id < vocab. */
export async function validateIds(ids: Tensor, vocab: number): Promise<void> {
  if (ids.dtype !== 'u32') throw new Error(`embedding: ids must be u32, got ${ids.dtype} ${ids.describe()}`);
  const values = await ids.readU32();
  const bad = values.findIndex((v) => v >= vocab);
  if (bad >= 0) throw new Error(`embedding: ${ids.describe()} holds id ${values[bad]} at position ${bad}, expected ids < vocab ${vocab}`);
}

// ---- float64 reference (inputs: [ids, table]; out-of-range ids give zero rows, like the kernel) ----

export function embeddingReference(): Reference {
  return {
    forward([ids, table]: readonly HostTensor[]): HostTensor {
      const [vocab, dim] = table!.shape as [number, number];
      const out = host([...ids!.shape, dim]);
      ids!.data.forEach((id, q) => {
        if (id < vocab) for (let d = 0; d < dim; d++) out.data[q * dim + d] = table!.data[id * dim + d]!;
      });
      return out;
    },
    backward([ids, table]: readonly HostTensor[], dy: HostTensor): (HostTensor | null)[] {
      const [vocab, dim] = table!.shape as [number, number];
      const dtable = host([vocab, dim]);
      ids!.data.forEach((id, q) => {
        if (id < vocab) for (let d = 0; d < dim; d++) dtable.data[id * dim + d]! += dy.data[q * dim + d]!;
      });
      return [null, dtable];
    },
  };
}
