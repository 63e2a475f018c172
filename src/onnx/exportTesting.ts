// Test helper shared by the export tests in Node and in headless chromium: random weights for a module,
// so every parameter (adaLN-Zero's zero-initialised ones included) takes part in the comparison.
import type { Module } from '../nn/module';
import { randn } from '../nn/host';
import { loadModule, serializeSafetensors } from '../nn/safetensors';

/**
 * Gives every parameter random values (normal, std `std`), so zero-initialised parts (adaLN-Zero's
 * modulation, the final projection) are exercised too. Deterministic in `seed`.
 */
export function randomizeParameters(module: Module, seed: number, std = 0.2): void {
  const tensors = Object.fromEntries(
    module.namedParameters().map(([path, t], i) => [path, { shape: [...t.shape], data: Float32Array.from(randn(t.shape, seed * 1000 + i, std).data) }]),
  );
  loadModule(module, serializeSafetensors(tensors));
}
