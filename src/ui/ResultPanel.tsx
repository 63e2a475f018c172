// The result area: data-state = idle | loading | running | done | error (data-testid="result") for tests to wait
// on. While it runs it shows the newest x0 estimate large and every step's estimate in a strip; when done, the
// images with their PNG downloads, the strip, the execution provider (and why that one) and the timings.
import { useGenerate } from '../state/generate';
import { deepLinkQuery } from '../state/deepLink';
import { providerLabel } from '../state/generation';
import type { GeneratedPicture } from '../workers/generateApi';
import { PixelImage, useObjectUrl } from './PixelImage';
import { Timings } from './Timings';

/** Display size of the main images: large for one, smaller for a batch, always a whole multiple of the pixels. */
const imageSize = (count: number) => (count === 1 ? 256 : count <= 4 ? 160 : 128);

function fileName(prompt: string, seed: number): string {
  const slug = prompt.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60) || 'image';
  return `senseflow-${slug}-${seed}.png`;
}

function Download({ image, prompt, many }: { image: GeneratedPicture; prompt: string; many: boolean }) {
  const url = useObjectUrl(image.png);
  if (!url) return null;
  return (
    <a className="button" href={url} download={fileName(prompt, image.seed)} {...(many ? { 'aria-label': `Download PNG, seed ${image.seed}` } : {})}>
      Download PNG
    </a>
  );
}

function PreviewStrip({ previews, width, height, image, count }: { previews: Uint8ClampedArray[]; width: number; height: number; image: number; count: number }) {
  if (previews.length === 0) return null;
  return (
    <ol className="preview-strip" aria-label={count > 1 ? `x0 estimate after each step, image ${image + 1}` : 'x0 estimate after each step'}>
      {previews.map((rgba, step) => (
        <li key={step}>
          <PixelImage rgba={rgba} width={width} height={height} size={64} label={`Step ${step + 1} x0 estimate`} />
          <span aria-hidden="true">{step + 1}</span>
        </li>
      ))}
    </ol>
  );
}

export function ResultPanel() {
  const run = useGenerate((s) => s.run);
  const { state, result } = run;
  const busy = state === 'loading' || state === 'running';
  const images = result?.images ?? [];

  return (
    <section className="result" aria-label="Result" data-testid="result" data-state={state} aria-busy={busy}>
      {state === 'idle' && <p className="placeholder">{run.message ?? 'Press Generate: the image appears here, with the x0 estimate after each step.'}</p>}
      {state === 'loading' && (
        <div role="status" className="progress">
          <span>{run.message ?? 'Loading'}…</span>
          <progress max={1} {...(run.loadFraction !== null ? { value: run.loadFraction } : {})} aria-label="Loading progress" />
        </div>
      )}
      {state === 'running' && (
        <div role="status" className="progress">
          <span>
            Step {run.step} of {run.steps}
          </span>
          <progress max={run.steps} value={run.step} aria-label="Generation progress" />
        </div>
      )}
      {state === 'error' && (
        <div role="alert" className="notice error">
          {run.message}
        </div>
      )}
      {state === 'running' && run.previews.length > 0 && run.previews[0]!.length > 0 && (
        <div className="images">
          {run.previews.map((list, b) => (
            <figure key={b}>
              <PixelImage rgba={list.at(-1)!} width={run.width} height={run.height} size={imageSize(run.previews.length)} label={`Image ${b + 1}, x0 estimate after step ${run.step}`} />
            </figure>
          ))}
        </div>
      )}
      {state === 'done' && result && (
        <>
          <div className="images">
            {images.map((image, b) => (
              <figure key={b}>
                <PixelImage rgba={image.rgba} width={image.width} height={image.height} size={imageSize(images.length)} label={`Generated image ${b + 1} of ${images.length}, seed ${image.seed}`} />
                <figcaption>
                  <span>seed {image.seed}</span>
                  <Download image={image} prompt={result.settings.prompt} many={images.length > 1} />
                </figcaption>
              </figure>
            ))}
          </div>
          <p className="provider" data-testid="provider">
            Execution provider: <strong>{providerLabel(result.provider)}</strong> ({result.providerReason})
          </p>
          <p className="meta">
            {result.modelName}, {result.settings.steps} {result.settings.sampler === 'x0' ? 'x0-renoise' : 'Euler'} step{result.settings.steps === 1 ? '' : 's'}
            {result.settings.guidance !== 1 ? `, guidance ${result.settings.guidance}` : ''} ·{' '}
            <a href={deepLinkQuery({ ...result.settings, seed: result.images[0]!.seed, model: result.modelName })}>Link to this result</a>
          </p>
        </>
      )}
      {(state === 'running' || state === 'done') &&
        run.previews.map((list, b) => (
          <PreviewStrip key={b} previews={list} width={run.width} height={run.height} image={b} count={run.previews.length} />
        ))}
      {state === 'done' && result && <Timings timings={result.timings} loadMs={result.loadMs} />}
    </section>
  );
}
