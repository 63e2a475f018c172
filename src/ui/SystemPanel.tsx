// The System panel: what this machine offers before anything runs, and what the app will do with it.
// Values that differ between machines carry data-machine-specific so visual tests can mask them.
import { useSystem, type WebGpuStatus } from '../state/system';
import { formatBytes } from './format';

const FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

function Row({ term, children, machineSpecific = false }: { term: string; children: React.ReactNode; machineSpecific?: boolean }) {
  return (
    <div className="row">
      <dt>{term}</dt>
      <dd data-machine-specific={machineSpecific || undefined}>{children}</dd>
    </div>
  );
}

function Consequences({ webgpu }: { webgpu: WebGpuStatus }) {
  if (webgpu.state === 'checking') return null;
  const ready = webgpu.state === 'ready';
  return (
    <Row term="What runs where">
      <ul className="consequences">
        <li>Generation: {ready ? 'WebGPU execution provider' : 'wasm execution provider (CPU, slower): WebGPU is unavailable'}</li>
        <li>Training: {ready ? 'WebGPU (our WGSL kernels)' : 'unavailable: the distillation playground needs WebGPU'}</li>
      </ul>
    </Row>
  );
}

function Alerts({ webgpu }: { webgpu: WebGpuStatus }) {
  if (webgpu.state === 'unavailable') {
    return (
      <div role="alert" className="notice warning">
        <strong>WebGPU is unavailable.</strong> {webgpu.reason} Generation still works on the CPU (wasm); training needs WebGPU.
      </div>
    );
  }
  if (webgpu.state === 'lost') {
    return (
      <div role="alert" className="notice error">
        <strong>The GPU device was lost</strong> ({webgpu.reason}
        {webgpu.message ? `: ${webgpu.message}` : ''}). Reload the page to get a new one; saved history and checkpoints are kept.
      </div>
    );
  }
  return null;
}

function AdapterRows({ webgpu }: { webgpu: WebGpuStatus }) {
  if (webgpu.state !== 'ready' && webgpu.state !== 'lost') return null;
  const { adapter } = webgpu;
  return (
    <>
      <Row term="Adapter" machineSpecific>
        {[adapter.vendor, adapter.architecture].filter(Boolean).join(' · ')}
        {adapter.description ? ` (${adapter.description})` : ''}
      </Row>
      <Row term="Fallback adapter" machineSpecific>
        {adapter.isFallbackAdapter ? 'yes: a software adapter, expect it to be slow' : 'no'}
      </Row>
      <Row term="Features" machineSpecific>
        <ul className="features">
          {FEATURES.map((f) => (
            <li key={f}>
              {f}: {adapter.features.includes(f) ? 'yes' : 'no'}
            </li>
          ))}
        </ul>
      </Row>
      <Row term="Max buffer size" machineSpecific>
        {formatBytes(adapter.limits.maxBufferSize)}
      </Row>
      <Row term="Max storage binding" machineSpecific>
        {formatBytes(adapter.limits.maxStorageBufferBindingSize)}
      </Row>
    </>
  );
}

function OrtRow() {
  const ort = useSystem((s) => s.ort);
  if (ort.state === 'checking') return <Row term="ONNX Runtime Web">checking…</Row>;
  if (ort.state === 'error') {
    return (
      <Row term="ONNX Runtime Web">
        <span role="alert" className="error-text">
          {__ORT_VERSION__}: {ort.message}
        </span>
      </Row>
    );
  }
  return (
    <Row term="ONNX Runtime Web">
      {ort.runtime.version} (wasm runtime served, {formatBytes(ort.runtime.wasmBytes)})
    </Row>
  );
}

function SelfTest() {
  const selfTest = useSystem((s) => s.selfTest);
  const webgpu = useSystem((s) => s.webgpu);
  const run = useSystem((s) => s.runSelfTest);
  let text = 'Runs a small WGSL kernel and checks its numbers against the CPU.';
  if (selfTest.state === 'running') text = 'Running…';
  if (selfTest.state === 'passed') text = `Self-test passed: ${selfTest.result.n} values, max error ${selfTest.result.maxAbsError}.`;
  if (selfTest.state === 'failed') text = `Self-test failed: ${selfTest.message}`;
  return (
    <div className="selftest">
      <button type="button" onClick={() => void run()} disabled={webgpu.state !== 'ready' || selfTest.state === 'running'}>
        Run GPU self-test
      </button>
      <p role="status" aria-label="Self-test result">
        {text}
      </p>
    </div>
  );
}

export function SystemPanel() {
  const webgpu = useSystem((s) => s.webgpu);
  return (
    <section className="panel system" aria-labelledby="system-heading" data-state={webgpu.state}>
      <h2 id="system-heading">System</h2>
      <Alerts webgpu={webgpu} />
      <dl>
        <Row term="WebGPU">
          {webgpu.state === 'checking' ? 'checking…' : webgpu.state === 'ready' ? 'available' : webgpu.state === 'lost' ? 'device lost' : 'unavailable'}
        </Row>
        <AdapterRows webgpu={webgpu} />
        <OrtRow />
        <Consequences webgpu={webgpu} />
      </dl>
      <SelfTest />
    </section>
  );
}
