// WebGPU reports most mistakes asynchronously (an invalid pipeline, a binding of the wrong usage, an
// out-of-memory buffer). These helpers turn them into exceptions at the call that caused them, carrying
// the implementation's text, so a bad kernel fails its test with the WGSL error and not a wrong number.

export type GpuErrorKind = 'validation' | 'out-of-memory' | 'internal';

export class GpuError extends Error {
  constructor(
    readonly kind: GpuErrorKind,
    readonly label: string,
    readonly detail: string,
  ) {
    super(`${label}: GPU ${kind} error: ${detail}`);
    this.name = 'GpuError';
  }
}

/** A WGSL module that did not compile: every message with its line and column, and the source line. */
export class WgslCompileError extends Error {
  constructor(
    readonly label: string,
    readonly messages: readonly GPUCompilationMessage[],
    source: string,
  ) {
    super(`${label}: WGSL compilation failed\n${formatMessages(messages, source)}`);
    this.name = 'WgslCompileError';
  }
}

function formatMessages(messages: readonly GPUCompilationMessage[], source: string): string {
  const lines = source.split('\n');
  return messages
    .map((m) => {
      const where = m.lineNum > 0 ? `${m.lineNum}:${m.linePos}` : '?';
      const text = m.lineNum > 0 ? `\n    ${lines[m.lineNum - 1]?.trim() ?? ''}` : '';
      return `  ${m.type} at ${where}: ${m.message}${text}`;
    })
    .join('\n');
}

const KINDS: GpuErrorKind[] = ['validation', 'out-of-memory', 'internal'];

/**
 * Runs `work` inside validation, out-of-memory and internal error scopes and throws the first error
 * any of them caught. `work` may be async; the scopes stay open until it settles.
 */
export async function scoped<T>(device: GPUDevice, label: string, work: () => T | Promise<T>): Promise<T> {
  for (const kind of KINDS) device.pushErrorScope(kind);
  let result: T;
  try {
    result = await work();
  } finally {
    // Scopes pop in reverse order of pushing: internal, out-of-memory, validation.
    const errors = await Promise.all([device.popErrorScope(), device.popErrorScope(), device.popErrorScope()]);
    const kinds = [...KINDS].reverse();
    const index = errors.findIndex((e) => e !== null);
    if (index >= 0) throw new GpuError(kinds[index]!, label, errors[index]!.message);
  }
  return result;
}

export interface KernelSource {
  /** Shown in every error message, and as the pipeline's label in GPU debuggers. */
  label: string;
  code: string;
  entryPoint?: string;
  /** Values for the module's `override` constants. */
  constants?: Record<string, number>;
}

/** Compiles a WGSL compute kernel; compile errors come back with line, column and source text. */
export async function createComputePipeline(device: GPUDevice, kernel: KernelSource): Promise<GPUComputePipeline> {
  // A module that does not compile also raises a validation error; the compilation messages say more
  // (line, column, source), so they win when there are any.
  let messages: readonly GPUCompilationMessage[] = [];
  const module = await scoped(device, kernel.label, async () => {
    const created = device.createShaderModule({ label: kernel.label, code: kernel.code });
    messages = (await created.getCompilationInfo()).messages.filter((m) => m.type === 'error');
    if (messages.length > 0) throw new WgslCompileError(kernel.label, messages, kernel.code);
    return created;
  }).catch((error: unknown) => {
    if (messages.length > 0) throw new WgslCompileError(kernel.label, messages, kernel.code);
    throw error;
  });
  const descriptor: GPUComputePipelineDescriptor = {
    label: kernel.label,
    layout: 'auto',
    compute: { module, entryPoint: kernel.entryPoint ?? 'main', constants: kernel.constants ?? {} },
  };
  try {
    return await scoped(device, kernel.label, () => device.createComputePipelineAsync(descriptor));
  } catch (error) {
    // createComputePipelineAsync rejects with a GPUPipelineError rather than raising a scoped error.
    if (error instanceof GpuError) throw error;
    throw new GpuError('validation', kernel.label, error instanceof Error ? error.message : String(error));
  }
}
