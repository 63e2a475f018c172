// The browser's storage as a whole (StorageManager): how much this site uses and may use, whether its
// data is safe from eviction, and how a full quota shows up as an error. Shared by the model cache (OPFS)
// and the history (IndexedDB): both live in the same per-site quota.

export interface StorageUse {
  /** Bytes this site stores (all of IndexedDB, OPFS, caches), as the browser estimates them. */
  usage: number;
  /** Bytes this site may store. */
  quota: number;
  /** True when the browser will not evict this site's data under storage pressure. */
  persisted: boolean;
}

/** The site's storage use, or null where the browser has no StorageManager (non-secure contexts). */
export async function storageUse(storage: StorageManager | undefined = globalThis.navigator?.storage): Promise<StorageUse | null> {
  if (!storage?.estimate) return null;
  const [estimate, persisted] = await Promise.all([storage.estimate(), storage.persisted?.() ?? Promise.resolve(false)]);
  return { usage: estimate.usage ?? 0, quota: estimate.quota ?? 0, persisted };
}

/**
 * Asks the browser to keep this site's data under storage pressure (cached models are large and slow to
 * fetch again). Chromium decides without a prompt (by engagement); Firefox asks the user. True if granted.
 */
export async function persistStorage(storage: StorageManager | undefined = globalThis.navigator?.storage): Promise<boolean> {
  return (await storage?.persist?.()) ?? false;
}

/**
 * A storage quota error as browsers report it: a DOMException (or, in newer engines, a QuotaExceededError)
 * named 'QuotaExceededError', or an error whose `cause` is one.
 */
export function isQuotaError(error: unknown): boolean {
  if (!(error instanceof Error) && !(error instanceof DOMException)) return false;
  return error.name === 'QuotaExceededError' || ('cause' in error && isQuotaError(error.cause));
}

/** "12.3 MiB": sizes in messages (the UI has its own formatter). */
export function mebibytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
