// The page's handle on the distillation worker (distill.worker.ts), started on first use. As with the generation
// worker (generateClient.ts), every call goes through `call`, which rejects with the worker's own error when its
// script fails to load instead of leaving the call pending for ever.
import * as Comlink from 'comlink';
import type { DistillWorkerApi } from './distillApi';

export { proxy } from 'comlink';

let remote: Comlink.Remote<DistillWorkerApi> | undefined;
let failed: Promise<never> | undefined;

function start(): Comlink.Remote<DistillWorkerApi> {
  if (!remote) {
    const worker = new Worker(new URL('./distill.worker.ts', import.meta.url), { type: 'module', name: 'senseflow-distill' });
    failed = new Promise<never>((_, reject) => {
      worker.addEventListener('error', (event) => {
        event.preventDefault();
        reject(new Error(`The distillation worker failed: ${event.message || 'its script could not be loaded'}. Reload the page to start it again.`));
      });
    });
    failed.catch(() => undefined);
    remote = Comlink.wrap<DistillWorkerApi>(worker);
  }
  return remote;
}

/** Calls the worker: `call((w) => w.pause())`. Rejects with the worker's own error, or when the worker died. */
export function call<T>(use: (worker: Comlink.Remote<DistillWorkerApi>) => Promise<T>): Promise<T> {
  const worker = start();
  return Promise.race([use(worker), failed!]);
}
