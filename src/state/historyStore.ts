// The history as the Generate tab shows it: the newest entries and the total, kept in step with the
// IndexedDB history (history.ts). A failure to keep a result (history full, IndexedDB unavailable) does
// not fail the generation: it lands in `error` for the UI to show, with what to do.
import { create } from 'zustand';
import { type History, type HistoryEntry, type NewHistoryEntry, openHistory } from './history';

export interface HistoryState {
  /** Newest first, at most `pageSize`. */
  entries: HistoryEntry[];
  /** How many entries the history holds in all. */
  total: number;
  status: 'idle' | 'loading' | 'ready' | 'error';
  /** The last failure's message, or null. */
  error: string | null;
  load(): Promise<void>;
  /** Keeps a result; returns it, or null when it could not be kept (see `error`). */
  add(entry: NewHistoryEntry): Promise<HistoryEntry | null>;
  remove(id: number): Promise<void>;
  clear(): Promise<void>;
  dismissError(): void;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** A history store over `open` (the browser's IndexedDB history by default; tests pass their own). */
export function createHistoryStore(open: () => Promise<History> = () => openHistory(), pageSize = 100) {
  let opened: Promise<History> | undefined;
  const history = () => {
    opened ??= open().catch((error: unknown) => {
      opened = undefined; // let a later call try again
      throw error;
    });
    return opened;
  };

  return create<HistoryState>()((set, get) => {
    // Runs one storage operation; a failure is recorded rather than thrown.
    async function attempt<T>(operation: (h: History) => Promise<T>): Promise<T | null> {
      try {
        return await operation(await history());
      } catch (error) {
        set({ error: message(error), status: get().status === 'loading' ? 'error' : get().status });
        return null;
      }
    }
    return {
      entries: [],
      total: 0,
      status: 'idle',
      error: null,
      async load() {
        set({ status: 'loading' });
        const loaded = await attempt(async (h) => ({ entries: await h.list({ limit: pageSize }), total: await h.count() }));
        if (loaded) set({ ...loaded, status: 'ready', error: null });
      },
      async add(entry) {
        const added = await attempt((h) => h.add(entry));
        if (added) set((s) => ({ entries: [added, ...s.entries].slice(0, pageSize), total: s.total + 1, error: null }));
        return added;
      },
      async remove(id) {
        if ((await attempt((h) => h.delete(id).then(() => true))) === null) return;
        // The page shrinks by one; reload it so an older entry moves up into view.
        await get().load();
      },
      async clear() {
        if ((await attempt((h) => h.clear().then(() => true))) === null) return;
        set({ entries: [], total: 0, error: null });
      },
      dismissError: () => set({ error: null }),
    };
  });
}

/** The Generate tab's history. Call load() once at start-up. */
export const useHistory = createHistoryStore();
