// reshape: the same buffer under a new shape (row-major data needs no movement); gradients flow back reshaped.
import { record, sizeOf, type Tensor } from '../tensor';

export function reshapeView(x: Tensor, shape: readonly number[]): Tensor {
  const resolved = resolveShape(shape, x.size);
  if (!resolved) throw new Error(`reshape: ${x.describe()} (${x.size} values) cannot take the shape [${shape.join(', ')}]`);
  if (sizeOf(resolved) !== x.size) throw new Error(`reshape: ${x.describe()} has ${x.size} values, [${resolved.join(', ')}] needs ${sizeOf(resolved)}`);
  return record(x.view(resolved), [x], (dy) => [reshapeView(dy, x.shape)]);
}

/** Resolves one -1 in a shape from the total size; null when that is impossible (several -1s, or no whole size fits). */
export function resolveShape(shape: readonly number[], size: number): number[] | null {
  const unknown = shape.indexOf(-1);
  if (unknown < 0) return [...shape];
  if (shape.indexOf(-1, unknown + 1) >= 0) return null;
  const known = shape.reduce((a, d, i) => (i === unknown ? a : a * d), 1);
  if (known === 0 || size % known !== 0) return null;
  return shape.map((d, i) => (i === unknown ? size / known : d));
}
