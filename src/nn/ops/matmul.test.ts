import { it } from 'vitest';
import { testEngine } from '../testing';
it('limits', async () => {
  const e = await testEngine();
  console.log(JSON.stringify(e.adapter.device), JSON.stringify(e.adapter.features));
});
