import { runRegistryContract } from './contract.ts';
import { MemoryRegistry } from './memory.ts';

runRegistryContract('memory', async () => {
  const registry = new MemoryRegistry();
  await registry.start();
  // In one process "another client" is the same store.
  return { registry, peer: registry, cleanup: () => registry.close() };
});
