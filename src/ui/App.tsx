import { useEffect } from 'react';
import { startGenerate } from '../state/generate';
import { useSystem } from '../state/system';
import { AboutTab } from './AboutTab';
import { DistillTab } from './DistillTab';
import { GenerateTab } from './GenerateTab';
import { SystemPanel } from './SystemPanel';
import { TabList, TabPanel } from './Tabs';
import { useSettingsDrop } from './useSettingsDrop';

export function App() {
  const probe = useSystem((s) => s.probe);
  useEffect(() => {
    void probe();
  }, [probe]);
  // The history, the cached models and a deep link (?prompt=...) load at start-up, whichever tab is open.
  useEffect(() => {
    void startGenerate();
  }, []);
  useSettingsDrop();

  return (
    <div className="app">
      <header className="header">
        <h1>senseflow-web</h1>
        <p className="tagline">Few-step text-to-image on WebGPU, and the distillation that makes it</p>
        <TabList />
      </header>
      <div className="layout">
        <main>
          <TabPanel name="generate">
            <GenerateTab />
          </TabPanel>
          <TabPanel name="distill">
            <DistillTab />
          </TabPanel>
          <TabPanel name="about">
            <AboutTab />
          </TabPanel>
        </main>
        <aside>
          <SystemPanel />
        </aside>
      </div>
    </div>
  );
}
