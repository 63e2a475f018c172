// The Distill tab's saved runs in IndexedDB (through idb): per run identity (distillApi.ts runKey), the latest
// checkpoint (both networks and both optimizers' moments, distill/senseflow.ts DistillCheckpoint), the metrics and
// evaluations up to it, and a small listing record. The worker writes; the page lists and deletes (so it can offer
// "resume" without starting the worker). Listing reads only the small records, never the checkpoint bytes.
// Also the teachers' reference samples (100 Euler steps, the slowest part of opening a run on a software adapter),
// under their weights' sha256 and the guidance, so a reload does not compute them again.
import { type DBSchema, type IDBPDatabase, openDB } from 'idb';
import type { DistillCheckpoint, IterationMetrics } from '../distill/senseflow';
import { isQuotaError } from '../pipeline/storage';
import type { RunEvaluation, SavedRun } from './distillApi';

export const DISTILL_DATABASE = 'senseflow-distill';
/** Runs kept; saving another deletes the oldest (a 2D toy run is about 1 MB on the ring, 3 MB on the grid). */
export const MAX_SAVED_RUNS = 4;

export interface SavedRunData {
  checkpoint: DistillCheckpoint;
  metrics: IterationMetrics[];
  evaluations: RunEvaluation[];
}

/** Reference sample sets kept; saving another deletes the oldest (10-22 kB for a toy teacher; a Shapes teacher keeps three, about 0.3 MB). */
const MAX_REFERENCES = 12;

interface DistillSchema extends DBSchema {
  runs: { key: string; value: SavedRun };
  data: { key: string; value: SavedRunData & { key: string } };
  references: { key: string; value: { key: string; points: Float32Array; savedAt: number } };
}

let opened: Promise<IDBPDatabase<DistillSchema>> | undefined;

function database(): Promise<IDBPDatabase<DistillSchema>> {
  opened ??= openDB<DistillSchema>(DISTILL_DATABASE, 1, {
    upgrade(db) {
      db.createObjectStore('runs', { keyPath: 'key' });
      db.createObjectStore('data', { keyPath: 'key' });
      db.createObjectStore('references', { keyPath: 'key' });
    },
  }).catch((error: unknown) => {
    opened = undefined;
    throw new Error(`Saved runs are unavailable: IndexedDB could not be opened (${error instanceof Error ? error.message : String(error)}).`, { cause: error });
  });
  return opened;
}

/** The saved runs, newest first. */
export async function listSavedRuns(): Promise<SavedRun[]> {
  const runs = await (await database()).getAll('runs');
  return runs.sort((a, b) => b.savedAt - a.savedAt);
}

export async function savedRun(key: string): Promise<SavedRun | null> {
  return (await (await database()).get('runs', key)) ?? null;
}

export async function loadSavedRun(key: string): Promise<SavedRunData | null> {
  const record = await (await database()).get('data', key);
  if (!record) return null;
  const { key: _key, ...data } = record;
  return data;
}

/** Replaces the run's saved checkpoint (one transaction: the listing never names a checkpoint that is not there). */
export async function saveRun(run: SavedRun, data: SavedRunData): Promise<void> {
  const db = await database();
  try {
    const tx = db.transaction(['runs', 'data'], 'readwrite');
    await Promise.all([tx.objectStore('runs').put(run), tx.objectStore('data').put({ key: run.key, ...data }), tx.done]);
  } catch (error) {
    if (isQuotaError(error)) throw new Error("The checkpoint was not saved: this site's browser storage is full. Delete saved runs (Reset) or other site data.", { cause: error });
    throw error;
  }
  const older = (await listSavedRuns()).slice(MAX_SAVED_RUNS);
  for (const stale of older) await deleteSavedRun(stale.key);
}

export async function deleteSavedRun(key: string): Promise<void> {
  const tx = (await database()).transaction(['runs', 'data'], 'readwrite');
  await Promise.all([tx.objectStore('runs').delete(key), tx.objectStore('data').delete(key), tx.done]);
}

export async function loadReference(key: string): Promise<Float32Array | null> {
  return (await (await database()).get('references', key))?.points ?? null;
}

export async function saveReference(key: string, points: Float32Array): Promise<void> {
  const db = await database();
  await db.put('references', { key, points, savedAt: Date.now() });
  const all = (await db.getAll('references')).sort((a, b) => b.savedAt - a.savedAt);
  for (const stale of all.slice(MAX_REFERENCES)) await db.delete('references', stale.key);
}
