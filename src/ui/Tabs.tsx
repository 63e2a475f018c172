// WAI-ARIA tabs: role tablist/tab/tabpanel, arrow keys move between tabs, only the selected tab is in
// the tab order. The selected tab mirrors the URL hash (state/app.ts).
import { useEffect, useRef } from 'react';
import { type Tab, TABS, tabFromHash, useApp } from '../state/app';

const LABELS: Record<Tab, string> = { generate: 'Generate', distill: 'Distill', about: 'About' };

export function TabList() {
  const tab = useApp((s) => s.tab);
  const setTab = useApp((s) => s.setTab);
  const refs = useRef<Partial<Record<Tab, HTMLButtonElement | null>>>({});

  useEffect(() => {
    const onHashChange = () => setTab(tabFromHash(globalThis.location.hash));
    globalThis.addEventListener('hashchange', onHashChange);
    return () => globalThis.removeEventListener('hashchange', onHashChange);
  }, [setTab]);

  const onKeyDown = (event: React.KeyboardEvent) => {
    const index = TABS.indexOf(tab);
    const next =
      event.key === 'ArrowRight' ? TABS[(index + 1) % TABS.length]
      : event.key === 'ArrowLeft' ? TABS[(index + TABS.length - 1) % TABS.length]
      : event.key === 'Home' ? TABS[0]
      : event.key === 'End' ? TABS[TABS.length - 1]
      : undefined;
    if (!next) return;
    event.preventDefault();
    setTab(next);
    refs.current[next]?.focus();
  };

  return (
    <div role="tablist" aria-label="Sections" className="tabs" onKeyDown={onKeyDown}>
      {TABS.map((name) => (
        <button
          key={name}
          ref={(el) => {
            refs.current[name] = el;
          }}
          type="button"
          role="tab"
          id={`tab-${name}`}
          aria-selected={tab === name}
          aria-controls={`panel-${name}`}
          tabIndex={tab === name ? 0 : -1}
          onClick={() => setTab(name)}
        >
          {LABELS[name]}
        </button>
      ))}
    </div>
  );
}

export function TabPanel({ name, children }: { name: Tab; children: React.ReactNode }) {
  const tab = useApp((s) => s.tab);
  if (tab !== name) return null;
  return (
    <div role="tabpanel" id={`panel-${name}`} aria-labelledby={`tab-${name}`} className="tabpanel">
      {children}
    </div>
  );
}
