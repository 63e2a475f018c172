// WebGPU in Node through Dawn (the `webgpu` npm package), for tests, CLIs and benchmarks. Node only:
// browser code must not import this file.
//
// Two software adapters work on machines without a GPU (measured speeds in docs/ARCHITECTURE.md):
// - 'swiftshader': Dawn's Vulkan backend on the SwiftShader ICD that Debian's chromium package ships,
//   the same adapter headless chromium uses, so Node and browser results agree.
// - 'llvmpipe': Dawn's OpenGL ES backend on Mesa's llvmpipe (compatibility feature level), faster here.
// - 'default': whatever Dawn picks first (a real GPU when there is one).
import { existsSync } from 'node:fs';
import { acquireGpuFrom, type AcquireOptions, type Gpu, WebGpuUnavailableError } from './device';

export type NodeAdapterKind = 'swiftshader' | 'llvmpipe' | 'default';

export const NODE_ADAPTER_KINDS: readonly NodeAdapterKind[] = ['swiftshader', 'llvmpipe', 'default'];

const SWIFTSHADER_ICDS = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib64/chromium/vk_swiftshader_icd.json'];

export function findSwiftShaderIcd(): string | undefined {
  return [process.env.SWIFTSHADER_ICD, ...SWIFTSHADER_ICDS].find((path): path is string => !!path && existsSync(path));
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

let dawn: DawnModule | undefined;

async function loadDawn(): Promise<DawnModule> {
  if (!dawn) {
    dawn = (await import('webgpu')) as unknown as DawnModule;
    // GPUBufferUsage, GPUMapMode, ... are globals in a browser; Dawn hands them to us instead.
    Object.assign(globalThis, dawn.globals);
  }
  return dawn;
}

/** The adapter kind from SENSEFLOW_ADAPTER, else SwiftShader (the adapter headless chromium uses here). */
export function adapterKindFromEnv(): NodeAdapterKind {
  const value = process.env.SENSEFLOW_ADAPTER ?? 'swiftshader';
  if (!(NODE_ADAPTER_KINDS as readonly string[]).includes(value)) {
    throw new Error(`SENSEFLOW_ADAPTER=${value} is not one of ${NODE_ADAPTER_KINDS.join(', ')}`);
  }
  return value as NodeAdapterKind;
}

export async function acquireNodeGpu(kind: NodeAdapterKind = adapterKindFromEnv(), options: AcquireOptions = {}): Promise<Gpu> {
  const flags: string[] = [];
  const acquire: AcquireOptions = { ...options, source: `dawn/${kind}` };
  if (kind === 'swiftshader') {
    const icd = findSwiftShaderIcd();
    if (!icd) {
      throw new WebGpuUnavailableError(
        "SwiftShader's Vulkan ICD was not found; install Debian's chromium package (it ships vk_swiftshader_icd.json) or set SWIFTSHADER_ICD.",
      );
    }
    // The Vulkan loader reads this when Dawn first opens it, so it must be set before create().
    process.env.VK_ICD_FILENAMES = icd;
    flags.push('backend=vulkan');
  } else if (kind === 'llvmpipe') {
    process.env.EGL_PLATFORM = 'surfaceless';
    flags.push('backend=opengles');
    acquire.featureLevel = 'compatibility';
  }
  // Kernel profiles (nn/profiler.ts) need unquantized timestamps; Dawn rounds them to 100 us by default.
  if (process.env.SENSEFLOW_PROFILE) flags.push('disable-dawn-features=timestamp_quantization');
  const { create } = await loadDawn();
  try {
    return await acquireGpuFrom(create(flags), acquire);
  } catch (error) {
    if (error instanceof WebGpuUnavailableError && kind !== 'default') {
      const needs = kind === 'swiftshader' ? 'libvulkan1 and chromium' : 'libegl1, libegl-mesa0, libgles2 and libgl1-mesa-dri';
      throw new WebGpuUnavailableError(`Dawn found no ${kind} adapter; install Debian's ${needs} (npm test installs them).`);
    }
    throw error;
  }
}
