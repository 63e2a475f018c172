// The System surface: what WebGPU and ONNX Runtime offer on this machine, probed once at start-up.
// The GPUDevice itself lives outside React state (it is not data to render).
import { create } from 'zustand';
import { acquireBrowserGpu, type AdapterReport, type Gpu, WebGpuUnavailableError } from '../gpu/device';
import { runSelfTest, type SelfTestResult } from '../gpu/selftest';
import { type OrtRuntimeReport, probeOrtRuntime } from '../pipeline/ort';

export type WebGpuStatus =
  | { state: 'checking' }
  | { state: 'ready'; adapter: AdapterReport }
  | { state: 'unavailable'; reason: string }
  | { state: 'lost'; adapter: AdapterReport; reason: string; message: string };

export type OrtStatus = { state: 'checking' } | { state: 'ready'; runtime: OrtRuntimeReport } | { state: 'error'; message: string };

export type SelfTestStatus =
  | { state: 'idle' }
  | { state: 'running' }
  | { state: 'passed'; result: SelfTestResult }
  | { state: 'failed'; message: string };

interface SystemState {
  webgpu: WebGpuStatus;
  ort: OrtStatus;
  selfTest: SelfTestStatus;
  probe(): Promise<void>;
  runSelfTest(): Promise<void>;
}

let gpu: Gpu | undefined;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export const useSystem = create<SystemState>()((set, get) => ({
  webgpu: { state: 'checking' },
  ort: { state: 'checking' },
  selfTest: { state: 'idle' },

  async probe() {
    const probeGpu = acquireBrowserGpu({
      label: 'system-panel',
      onLost: (info) => {
        gpu = undefined;
        const current = get().webgpu;
        if (current.state !== 'ready') return;
        set({ webgpu: { state: 'lost', adapter: current.adapter, reason: info.reason ?? 'unknown', message: info.message } });
      },
    }).then(
      (acquired) => {
        gpu = acquired;
        set({ webgpu: { state: 'ready', adapter: acquired.adapter } });
      },
      (error: unknown) => {
        const reason = error instanceof WebGpuUnavailableError ? error.reason : message(error);
        set({ webgpu: { state: 'unavailable', reason } });
      },
    );
    const probeOrt = probeOrtRuntime().then(
      (runtime) => set({ ort: { state: 'ready', runtime } }),
      (error: unknown) => set({ ort: { state: 'error', message: message(error) } }),
    );
    await Promise.all([probeGpu, probeOrt]);
  },

  async runSelfTest() {
    if (!gpu) {
      set({ selfTest: { state: 'failed', message: 'No WebGPU device: the self-test needs WebGPU.' } });
      return;
    }
    set({ selfTest: { state: 'running' } });
    try {
      const result = await runSelfTest(gpu.device);
      set({ selfTest: result.ok ? { state: 'passed', result } : { state: 'failed', message: `wrong results: max error ${result.maxAbsError}` } });
    } catch (error) {
      set({ selfTest: { state: 'failed', message: message(error) } });
    }
  },
}));
