// The history in real IndexedDB (headless chromium, vitest browser mode): a round trip of settings, PNG,
// timings and provider; newest first with a limit and paging; delete, clear, count; entries survive
// closing and re-opening the database (a reload). A full quota is simulated by records whose add fails
// the way a browser does (QuotaExceededError): HistoryFullError, and nothing of the entry remains.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodePngWithSettings, type GenerationSettings, readPngSettings } from '../pipeline/pngMeta';
import { deleteHistoryDatabase, type History, HistoryFullError, type HistoryRecords, historyOver, idbHistoryRecords, type NewHistoryEntry, openHistory } from './history';
import { createHistoryStore } from './historyStore';

const DB = 'senseflow-history-test';

const settings = (seed: number): GenerationSettings => ({
  prompt: `a green square, seed ${seed}`,
  seed,
  steps: 2,
  sampler: 'x0',
  guidance: 1,
  model: 'shapes-student',
  modelSha256: '0f'.repeat(32),
});

function entry(seed: number, createdAt: number): NewHistoryEntry {
  const pixels = new Uint8Array(2 * 2 * 4).fill(seed % 256);
  return {
    settings: settings(seed),
    png: encodePngWithSettings({ width: 2, height: 2, data: pixels }, settings(seed)),
    timings: { tokenizeMs: 0.5, textEncoderMs: 3.5, stepMs: [10, 9.5], denoiserMs: [9, 8.5], decodeMs: 1, totalMs: 25, pipelineOverheadMs: 3 },
    provider: 'webgpu',
    createdAt,
  };
}

const seeds = (entries: { settings: GenerationSettings }[]) => entries.map((e) => e.settings.seed);

let history: History;

beforeEach(async () => {
  await deleteHistoryDatabase(DB);
  history = await openHistory(DB);
});

afterEach(async () => {
  history.close();
  await deleteHistoryDatabase(DB);
});

describe('history in IndexedDB', () => {
  it('round-trips an entry: settings, PNG (bytes or Blob), timings, provider, createdAt', async () => {
    const input = entry(7, 1_000);
    const added = await history.add(input);
    expect(added.id).toBeTypeOf('number');
    const got = await history.get(added.id);
    expect(got).toBeDefined();
    expect(got!.settings).toEqual(input.settings);
    expect(got!.timings).toEqual(input.timings);
    expect(got!.provider).toBe('webgpu');
    expect(got!.createdAt).toBe(1_000);
    expect(got!.png).toBeInstanceOf(Blob);
    expect(got!.png.type).toBe('image/png');
    const bytes = new Uint8Array(await got!.png.arrayBuffer());
    expect(bytes).toEqual(input.png);
    expect(readPngSettings(bytes).settings).toEqual(input.settings);

    const asBlob = await history.add({ ...entry(8, 2_000), png: new Blob([bytes], { type: 'image/png' }) });
    expect((await (await history.get(asBlob.id))!.png.arrayBuffer()).byteLength).toBe(bytes.byteLength);
    expect(await history.get(12345)).toBeUndefined();
  });

  it('lists newest first, with a limit and an offset; ties in createdAt go by insertion, newest first', async () => {
    await history.add(entry(1, 300));
    await history.add(entry(2, 100));
    await history.add(entry(3, 200));
    await history.add(entry(4, 200));
    expect(seeds(await history.list())).toEqual([1, 4, 3, 2]);
    expect(seeds(await history.list({ limit: 2 }))).toEqual([1, 4]);
    expect(seeds(await history.list({ limit: 2, offset: 2 }))).toEqual([3, 2]);
    expect(seeds(await history.list({ offset: 10 }))).toEqual([]);
    expect(await history.list({ limit: 0 })).toEqual([]);
    expect(() => history.list({ limit: -1 })).toThrow(RangeError);
    expect(await history.count()).toBe(4);
  });

  it('stamps createdAt now when not given', async () => {
    const before = Date.now();
    const { createdAt: _, ...rest } = entry(5, 0);
    const added = await history.add(rest);
    expect(added.createdAt).toBeGreaterThanOrEqual(before);
    expect((await history.get(added.id))!.createdAt).toBe(added.createdAt);
  });

  it('deletes one entry, and clears all', async () => {
    const a = await history.add(entry(1, 1));
    await history.add(entry(2, 2));
    await history.delete(a.id);
    expect(await history.get(a.id)).toBeUndefined();
    expect(seeds(await history.list())).toEqual([2]);
    await history.delete(999); // deleting what is not there is not an error
    await history.clear();
    expect(await history.count()).toBe(0);
    expect(await history.list()).toEqual([]);
  });

  it('entries survive closing and re-opening the database (a reload)', async () => {
    await history.add(entry(1, 10));
    await history.add(entry(2, 20));
    history.close();
    history = await openHistory(DB);
    expect(seeds(await history.list())).toEqual([2, 1]);
    const [newest] = await history.list({ limit: 1 });
    expect(new Uint8Array(await newest!.png.arrayBuffer())).toEqual(entry(2, 20).png);
  });
});

/** The real records, except that add writes the entry and then fails as a full disk does: the transaction aborts. */
async function recordsThatRunOutOfQuota(): Promise<HistoryRecords> {
  const real = await idbHistoryRecords(DB);
  return {
    ...real,
    async add(record) {
      const request = indexedDB.open(DB);
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      const tx = db.transaction('results', 'readwrite');
      tx.objectStore('results').add(record);
      tx.abort();
      db.close();
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    },
  };
}

describe('a full storage quota', () => {
  it('gives HistoryFullError saying to delete entries, and keeps nothing of the entry', async () => {
    await history.add(entry(1, 1));
    const full = historyOver(await recordsThatRunOutOfQuota());
    const error = await full.add(entry(2, 2)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HistoryFullError);
    expect((error as Error).message).toMatch(/^The history is full: .* Delete some entries from the history/);
    expect(((error as Error).cause as DOMException).name).toBe('QuotaExceededError');
    expect(await full.count()).toBe(1);
    expect(seeds(await full.list())).toEqual([1]);
    full.close();
  });

  it('other failures pass through unchanged', async () => {
    const real = await idbHistoryRecords(DB);
    const broken = historyOver({ ...real, add: () => Promise.reject(new DOMException('bad key', 'DataError')) });
    await expect(broken.add(entry(1, 1))).rejects.toMatchObject({ name: 'DataError' });
    broken.close();
  });
});

describe('the history store (zustand)', () => {
  it('loads, adds, removes and clears, and records a full history as an error instead of throwing', async () => {
    await history.add(entry(1, 1));
    const store = createHistoryStore(() => openHistory(DB), 2);
    await store.getState().load();
    expect(store.getState().status).toBe('ready');
    expect(seeds(store.getState().entries)).toEqual([1]);
    await store.getState().add(entry(2, 2));
    await store.getState().add(entry(3, 3));
    expect(seeds(store.getState().entries)).toEqual([3, 2]); // one page of 2
    expect(store.getState().total).toBe(3);
    await store.getState().remove(store.getState().entries[0]!.id);
    expect(seeds(store.getState().entries)).toEqual([2, 1]);
    expect(store.getState().total).toBe(2);
    await store.getState().clear();
    expect(store.getState().entries).toEqual([]);

    const full = createHistoryStore(async () => historyOver(await recordsThatRunOutOfQuota()));
    await full.getState().load();
    expect(await full.getState().add(entry(4, 4))).toBeNull();
    expect(full.getState().error).toMatch(/^The history is full/);
    expect(full.getState().entries).toEqual([]);
  });
});
