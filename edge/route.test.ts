import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryRegistry } from '../core/registry/memory.ts';
import { RegistryResolver } from './route.ts';

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

test('a watched route is re-checked without any registry event (events lost during a reconnect)', async () => {
  const registry = new MemoryRegistry();
  const resolver = new RegistryResolver(registry, { recheckMs: 20 });
  let calls = 0;
  // No registry event is ever emitted: the only way onChange runs is the periodic re-check.
  const unwatch = resolver.watch('live', 'a', () => calls++);
  await until(() => calls >= 2, 5000);
  assert.ok(calls >= 2, `expected periodic re-checks, got ${calls}`);
  unwatch();
  const after = calls;
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(calls <= after + 1, 'the re-check stops once nothing is watched');
});
