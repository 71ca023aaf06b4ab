import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createMetrics, StreamLabeler } from './metrics.ts';

describe('metrics', () => {
  it('every relaycast metric a process can export is documented in docs/metrics.md', async () => {
    const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'metrics.md'), 'utf8');
    for (const role of ['all', 'control-plane']) {
      const m = createMetrics({ role, nodeId: 'n', version: 'v', maxStreams: 10 });
      const names = (await m.registry.getMetricsAsJSON())
        .map((x) => x.name)
        .filter((n) => !/^relaycast_(process|nodejs)_/.test(n));
      assert.ok(names.length > 25);
      for (const n of names) assert.ok(doc.includes(`\`${n}\``), `${n} missing from docs/metrics.md`);
    }
  });

  it('caps per-stream label values', () => {
    const l = new StreamLabeler(2);
    assert.deepEqual(l.label('live', 'a'), { app: 'live', stream: 'a' });
    l.label('live', 'b');
    assert.deepEqual(l.label('live', 'c'), { app: '_other', stream: '_other' });
    l.forget('live', 'a');
    assert.deepEqual(l.label('live', 'c'), { app: 'live', stream: 'c' });
  });
});
