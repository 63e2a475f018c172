// The Generate tab's history: every result with its settings, its PNG, its timings and the execution
// provider that ran it, kept in IndexedDB (through idb) so it survives reloads. Framework-free: the UI's
// store (historyStore.ts) sits on top. Storage goes through a small port (HistoryRecords) so a test can put
// a failing one underneath, e.g. one that runs out of quota, without filling a disk.
import { type DBSchema, deleteDB, type IDBPDatabase, openDB } from 'idb';
import type { ExecutionProvider, GenerateTimings } from '../pipeline/generate';
import type { GenerationSettings } from '../pipeline/pngMeta';
import { isQuotaError } from '../pipeline/storage';

export const HISTORY_DATABASE = 'senseflow-history';
const STORE = 'results';
const BY_TIME = 'createdAt';

export interface NewHistoryEntry {
  settings: GenerationSettings;
  /** The image as a PNG file (with its settings embedded, pngMeta.ts). */
  png: Blob | Uint8Array;
  timings: GenerateTimings;
  /** The execution provider that ran it. */
  provider: ExecutionProvider;
  /** Milliseconds since the epoch; now when absent. */
  createdAt?: number;
}

export interface HistoryEntry {
  id: number;
  settings: GenerationSettings;
  png: Blob;
  timings: GenerateTimings;
  provider: ExecutionProvider;
  createdAt: number;
}

export interface ListOptions {
  /** At most this many entries (default 100). */
  limit?: number;
  /** Skip this many of the newest first (paging). */
  offset?: number;
}

/** Storage ran out of quota; nothing of the entry was kept. */
export class HistoryFullError extends Error {
  constructor(cause: unknown) {
    super("The history is full: this site's browser storage is used up. Delete some entries from the history (or clear it) and try again.", { cause });
    this.name = 'HistoryFullError';
  }
}

/** IndexedDB cannot be opened here (blocked by the browser's settings, some private windows). */
export class HistoryUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`The history cannot be kept in this browser: IndexedDB could not be opened (${cause instanceof Error ? cause.message : String(cause)}). Results still show, but are not saved.`, { cause });
    this.name = 'HistoryUnavailableError';
  }
}

/** What the history needs from storage. idbHistoryRecords is the real one; tests wrap it to inject faults. */
export interface HistoryRecords {
  /** Stores one record atomically and returns its id; rejects with the storage's own error. */
  add(record: Omit<HistoryEntry, 'id'>): Promise<number>;
  get(id: number): Promise<HistoryEntry | undefined>;
  /** Newest first (createdAt, then id, descending). */
  list(limit: number, offset: number): Promise<HistoryEntry[]>;
  delete(id: number): Promise<void>;
  clear(): Promise<void>;
  count(): Promise<number>;
  close(): void;
}

interface HistorySchema extends DBSchema {
  [STORE]: { key: number; value: Omit<HistoryEntry, 'id'> & { id?: number }; indexes: { [BY_TIME]: number } };
}

/** The records in IndexedDB database `name`: one object store, auto-increment ids, an index on createdAt. */
export async function idbHistoryRecords(name = HISTORY_DATABASE): Promise<HistoryRecords> {
  let db: IDBPDatabase<HistorySchema>;
  try {
    db = await openDB<HistorySchema>(name, 1, {
      upgrade(database) {
        const store = database.createObjectStore(STORE, { keyPath: 'id', autoIncrement: true });
        store.createIndex(BY_TIME, 'createdAt');
      },
      // A newer version of the app in another tab wants to upgrade the database: let it.
      blocking() {
        db.close();
      },
    });
  } catch (error) {
    throw new HistoryUnavailableError(error);
  }
  return {
    async add(record) {
      const tx = db.transaction(STORE, 'readwrite');
      try {
        const [id] = await Promise.all([tx.store.add(record), tx.done]);
        return id;
      } catch (error) {
        // A quota failure aborts the transaction: the request fails with AbortError, the transaction carries the cause.
        throw tx.error ?? error;
      }
    },
    get: async (id) => (await db.get(STORE, id)) as HistoryEntry | undefined,
    async list(limit, offset) {
      const entries: HistoryEntry[] = [];
      let cursor = await db.transaction(STORE).store.index(BY_TIME).openCursor(null, 'prev');
      if (cursor && offset > 0) cursor = await cursor.advance(offset);
      while (cursor && entries.length < limit) {
        entries.push(cursor.value as HistoryEntry);
        cursor = await cursor.continue();
      }
      return entries;
    },
    delete: (id) => db.delete(STORE, id),
    clear: () => db.clear(STORE),
    count: () => db.count(STORE),
    close: () => db.close(),
  };
}

export interface History {
  /** Keeps a result; throws HistoryFullError (and keeps nothing) when storage is full. */
  add(entry: NewHistoryEntry): Promise<HistoryEntry>;
  /** Newest first. */
  list(options?: ListOptions): Promise<HistoryEntry[]>;
  get(id: number): Promise<HistoryEntry | undefined>;
  delete(id: number): Promise<void>;
  clear(): Promise<void>;
  count(): Promise<number>;
  close(): void;
}

/** The history over any records (the real IndexedDB ones, or a test's). */
export function historyOver(records: HistoryRecords): History {
  return {
    async add(entry) {
      const record: Omit<HistoryEntry, 'id'> = {
        settings: { ...entry.settings },
        png: entry.png instanceof Blob ? entry.png : new Blob([entry.png as Uint8Array<ArrayBuffer>], { type: 'image/png' }),
        timings: entry.timings,
        provider: entry.provider,
        createdAt: entry.createdAt ?? Date.now(),
      };
      try {
        return { id: await records.add(record), ...record };
      } catch (error) {
        throw isQuotaError(error) ? new HistoryFullError(error) : error;
      }
    },
    list({ limit = 100, offset = 0 } = {}) {
      if (!(Number.isInteger(limit) && limit >= 0 && Number.isInteger(offset) && offset >= 0)) {
        throw new RangeError(`list: limit and offset must be whole numbers >= 0, got ${limit} and ${offset}`);
      }
      return limit === 0 ? Promise.resolve([]) : records.list(limit, offset);
    },
    get: (id) => records.get(id),
    delete: (id) => records.delete(id),
    clear: () => records.clear(),
    count: () => records.count(),
    close: () => records.close(),
  };
}

/** The history kept in this browser (IndexedDB database `name`). Throws HistoryUnavailableError when IndexedDB cannot be opened. */
export async function openHistory(name = HISTORY_DATABASE): Promise<History> {
  return historyOver(await idbHistoryRecords(name));
}

/** Removes the whole database (tests; a "reset" button). Close every History on it first. */
export async function deleteHistoryDatabase(name = HISTORY_DATABASE): Promise<void> {
  await deleteDB(name);
}
