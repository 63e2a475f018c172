// Which tab is open. It mirrors the URL hash (#generate, #distill, #about) so a link opens a tab.
import { create } from 'zustand';

export const TABS = ['generate', 'distill', 'about'] as const;
export type Tab = (typeof TABS)[number];

export function tabFromHash(hash: string): Tab {
  const name = hash.replace(/^#/, '');
  return (TABS as readonly string[]).includes(name) ? (name as Tab) : 'generate';
}

interface AppState {
  tab: Tab;
  setTab(tab: Tab): void;
}

export const useApp = create<AppState>()((set) => ({
  tab: tabFromHash(globalThis.location?.hash ?? ''),
  setTab(tab) {
    if (globalThis.location && globalThis.location.hash !== `#${tab}`) globalThis.history.replaceState(null, '', `#${tab}`);
    set({ tab });
  },
}));
