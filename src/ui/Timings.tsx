// Where a generation's time went: tokenizing, the text encoder, every denoiser step, decoding, the total, and the
// model load when this run had to load it. Machine-specific (data-machine-specific, masked in visual tests); the
// layout does not depend on the numbers (fixed-width cells), so a mask covers the same box on every run.
import type { GenerateTimings } from '../pipeline/generate';

export function formatMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(1)} ms`;
}

export function Timings({ timings, loadMs, compact = false }: { timings: GenerateTimings; loadMs: number | null; compact?: boolean }) {
  const steps = timings.stepMs;
  const mean = steps.reduce((a, b) => a + b, 0) / Math.max(1, steps.length);
  return (
    <dl className="timings" role="group" aria-label="Timings">
      {loadMs !== null && (
        <div className="row">
          <dt>Model load (first use)</dt>
          <dd data-machine-specific>{formatMs(loadMs)}</dd>
        </div>
      )}
      {!compact && (
        <>
          <div className="row">
            <dt>Tokenize</dt>
            <dd data-machine-specific>{formatMs(timings.tokenizeMs)}</dd>
          </div>
          <div className="row">
            <dt>Text encoder</dt>
            <dd data-machine-specific>{formatMs(timings.textEncoderMs)}</dd>
          </div>
        </>
      )}
      <div className="row">
        <dt>
          {steps.length} denoiser step{steps.length === 1 ? '' : 's'}
        </dt>
        <dd data-machine-specific>{compact ? `${formatMs(mean)} each` : `mean ${formatMs(mean)}`}</dd>
      </div>
      {!compact && (
        <div className="row steps">
          <dt>Each step</dt>
          <dd data-machine-specific>
            <ol className="step-times">
              {steps.map((ms, i) => (
                <li key={i} title={`step ${i + 1}`}>
                  {formatMs(ms)}
                </li>
              ))}
            </ol>
          </dd>
        </div>
      )}
      {!compact && (
        <div className="row">
          <dt>Decode</dt>
          <dd data-machine-specific>{formatMs(timings.decodeMs)}</dd>
        </div>
      )}
      <div className="row total">
        <dt>Total</dt>
        <dd data-machine-specific>{formatMs(timings.totalMs)}</dd>
      </div>
    </dl>
  );
}
