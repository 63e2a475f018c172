// The page's handle on the generation worker (generate.worker.ts), started on first use. Comlink turns its
// methods into async calls; callbacks passed to it must be wrapped with `proxy` (re-exported here). A worker that
// fails to start (its script fails to load or throws) would leave Comlink's calls pending for ever, so every call
// goes through `call`, which rejects with the worker's error instead.
import * as Comlink from 'comlink';
import type { GenerateWorkerApi } from './generateApi';

export { proxy } from 'comlink';

let remote: Comlink.Remote<GenerateWorkerApi> | undefined;
let failed: Promise<never> | undefined;

function start(): Comlink.Remote<GenerateWorkerApi> {
  if (!remote) {
    const worker = new Worker(new URL('./generate.worker.ts', import.meta.url), { type: 'module', name: 'senseflow-generate' });
    failed = new Promise<never>((_, reject) => {
      worker.addEventListener('error', (event) => {
        event.preventDefault();
        reject(new Error(`The generation worker failed: ${event.message || 'its script could not be loaded'}. Reload the page to start it again.`));
      });
    });
    failed.catch(() => undefined);
    remote = Comlink.wrap<GenerateWorkerApi>(worker);
  }
  return remote;
}

/** Calls the worker: `call((w) => w.listCached())`. Rejects with the worker's own error, or when the worker died. */
export function call<T>(use: (worker: Comlink.Remote<GenerateWorkerApi>) => Promise<T>): Promise<T> {
  const worker = start();
  return Promise.race([use(worker), failed!]);
}
