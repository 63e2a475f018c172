// Acquiring a GPUDevice from any WebGPU implementation: the browser's navigator.gpu, or Dawn in Node
// (see ./node.ts). Everything that runs kernels takes a `Gpu` from here, so the same code runs in both.

/** What a user (and a bug report) needs to know about the adapter before anything runs. */
export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A fallback adapter is a software one the browser offers when no hardware adapter qualifies. */
  isFallbackAdapter: boolean;
  /** Where the adapter came from: 'browser', or the Dawn backend used in Node. */
  source: string;
  features: string[];
  limits: Record<LimitName, number>;
}

/** The optional features our kernels can use when present. */
export const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

/** The limits that decide what fits: requested at the adapter's maximum, and shown in the System panel. */
export const WANTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
] as const;
export type LimitName = (typeof WANTED_LIMITS)[number];

export interface Gpu {
  /**
   * The WebGPU implementation the device came from. Dawn in Node tears its instance down when this
   * object is garbage-collected, even with devices alive (then the process crashes), so it is held here
   * for as long as the device is used; drop the Gpu to let a CLI exit.
   */
  instance: GPU;
  device: GPUDevice;
  adapter: AdapterReport;
  /** Resolves when the device is lost (destroyed, driver reset, GPU process crash). */
  lost: Promise<GPUDeviceLostInfo>;
}

export interface AcquireOptions {
  /** 'compatibility' is needed for Dawn's OpenGL ES backend (llvmpipe). */
  featureLevel?: 'core' | 'compatibility';
  powerPreference?: GPUPowerPreference;
  /** Called once if the device is lost; a destroy() we asked for is reported too, with reason 'destroyed'. */
  onLost?: (info: GPUDeviceLostInfo) => void;
  /** Called for errors no error scope caught (a bug in our code: every kernel call is scoped). */
  onUncapturedError?: (error: GPUError) => void;
  source?: string;
  label?: string;
}

/** Thrown when WebGPU cannot be used at all; `reason` is written for the user. */
export class WebGpuUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`WebGPU is unavailable: ${reason}`);
    this.name = 'WebGpuUnavailableError';
  }
}

export async function requestAdapter(gpu: GPU, options: AcquireOptions = {}): Promise<GPUAdapter> {
  const request: GPURequestAdapterOptions & { featureLevel?: string } = {};
  if (options.powerPreference) request.powerPreference = options.powerPreference;
  if (options.featureLevel) request.featureLevel = options.featureLevel;
  const adapter = await gpu.requestAdapter(request);
  if (!adapter) {
    throw new WebGpuUnavailableError(
      'The browser exposes WebGPU but offered no adapter (the GPU may be blocklisted, or WebGPU disabled in its settings).',
    );
  }
  return adapter;
}

export function describeAdapter(adapter: GPUAdapter, source: string): AdapterReport {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  // isFallbackAdapter moved from GPUAdapter to GPUAdapterInfo; read whichever this implementation has.
  const legacy = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const limits = {} as Record<LimitName, number>;
  for (const name of WANTED_LIMITS) limits[name] = Number(adapter.limits[name]);
  return {
    vendor: info.vendor || 'unknown',
    architecture: info.architecture || 'unknown',
    device: info.device || '',
    description: info.description || '',
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? legacy ?? false),
    source,
    features: [...adapter.features].sort(),
    limits,
  };
}

/** Requests a device with every wanted feature the adapter has and the wanted limits at the adapter's maximum. */
export async function acquireGpuFrom(gpu: GPU, options: AcquireOptions = {}): Promise<Gpu> {
  const adapter = await requestAdapter(gpu, options);
  const report = describeAdapter(adapter, options.source ?? 'browser');
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) requiredLimits[name] = report.limits[name];
  const device = await adapter.requestDevice({
    label: options.label ?? 'senseflow',
    requiredFeatures,
    requiredLimits,
  });
  const lost = device.lost.then((info) => {
    options.onLost?.(info);
    return info;
  });
  device.addEventListener('uncapturederror', (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    if (options.onUncapturedError) options.onUncapturedError(error);
    else console.error(`[gpu] uncaptured ${error.constructor.name}: ${error.message}`);
  });
  return { instance: gpu, device, adapter: report, lost };
}

/** The browser's WebGPU, with a reason the user can act on when it is not there. */
export async function acquireBrowserGpu(options: AcquireOptions = {}): Promise<Gpu> {
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  if (!nav?.gpu) {
    const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
    throw new WebGpuUnavailableError(
      secure === false
        ? 'This page is not a secure context; open it over https or from http://localhost.'
        : 'This browser has no navigator.gpu; use a recent Chrome or Edge (or Chromium with --enable-unsafe-webgpu).',
    );
  }
  return acquireGpuFrom(nav.gpu, { ...options, source: 'browser' });
}
