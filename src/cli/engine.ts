// A training engine on Dawn for the Node commands, and its release: Dawn's instance would otherwise keep the
// process alive after main() returns (scripts/cli.mjs also exits explicitly once main has resolved).
import { acquireNodeGpu, type NodeAdapterKind } from '../gpu/node';
import { Engine } from '../nn/engine';

/** The engine's adapter in one line (vendor / architecture / device / description), for logs and provenance. */
export function adapterLabel(engine: Engine): string {
  const a = engine.adapter;
  return [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ');
}

export async function openEngine(adapter: NodeAdapterKind): Promise<Engine> {
  const engine = new Engine(await acquireNodeGpu(adapter, { label: 'cli' }));
  console.log(`[gpu] ${adapter}: ${adapterLabel(engine)}`);
  return engine;
}

/** Runs work with an engine and destroys the engine's device afterwards, whatever happens. */
export async function withEngine<T>(adapter: NodeAdapterKind, work: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await openEngine(adapter);
  try {
    return await work(engine);
  } finally {
    engine.destroy();
  }
}
