// "Latest wins" for generate-as-you-type: a new request while one runs aborts it, waits for it to stop (the
// pipeline runs one generation at a time), then starts; a request still waiting when a newer one arrives never
// starts. Every superseded request rejects with an AbortError, so a caller can tell "replaced" from "failed".
import { abortError } from './generateSampler';

export class LatestWins<T> {
  private controller: AbortController | null = null;
  private running: Promise<unknown> = Promise.resolve();
  private generation = 0;

  /** Whether a task is running or waiting to run. */
  get busy(): boolean {
    return this.controller !== null;
  }

  /**
   * Runs `task` once the previous one has stopped, aborting that one first. `task` gets the signal it must honour
   * (pass it to Pipeline.generate). Rejects with an AbortError when a newer request replaces this one.
   */
  run(task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    this.controller?.abort(abortError('replaced by a newer request'));
    const controller = new AbortController();
    this.controller = controller;
    const generation = ++this.generation;
    const previous = this.running;
    const result = (async () => {
      await previous.catch(() => undefined);
      if (controller.signal.aborted) throw abortError(controller.signal.reason);
      return task(controller.signal);
    })();
    this.running = result.then(
      () => undefined,
      () => undefined,
    );
    void this.running.then(() => {
      if (this.generation === generation) this.controller = null;
    });
    return result;
  }

  /** Aborts the running or waiting request, if any. */
  cancel(reason?: unknown): void {
    this.controller?.abort(reason ?? abortError('cancelled'));
  }
}
