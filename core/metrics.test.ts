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

  it('a --workers thread reports its own event-loop lag and heap, labelled by worker, and the lag restarts at each scrape', async () => {
    const m = createMetrics({ role: 'all', nodeId: 'n', version: 'v', maxStreams: 10, workerIndex: 3 });
    const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'metrics.md'), 'utf8');
    // block this thread's event loop for 300 ms: the next scrape's max must show it
    await new Promise((r) => setTimeout(r, 30));
    const until = performance.now() + 300;
    while (performance.now() < until) {
      /* busy */
    }
    await new Promise((r) => setTimeout(r, 30));
    const values = async () => {
      const out: Record<string, { labels: Record<string, unknown>; value: number }> = {};
      for (const x of await m.registry.getMetricsAsJSON())
        if (x.name.startsWith('relaycast_worker_') && x.name !== 'relaycast_worker_viewers') {
          assert.ok(doc.includes(`\`${x.name}\``), `${x.name} missing from docs/metrics.md`);
          out[x.name] = x.values[0] as { labels: Record<string, unknown>; value: number };
        }
      return out;
    };
    const first = await values();
    assert.deepEqual(Object.keys(first).sort(), [
      'relaycast_worker_eventloop_lag_max_seconds',
      'relaycast_worker_eventloop_lag_p99_seconds',
      'relaycast_worker_heap_used_bytes',
    ]);
    assert.equal(first.relaycast_worker_eventloop_lag_max_seconds!.labels.worker, '3');
    assert.ok(first.relaycast_worker_eventloop_lag_max_seconds!.value >= 0.25, JSON.stringify(first));
    assert.ok(first.relaycast_worker_eventloop_lag_p99_seconds!.value > 0, JSON.stringify(first));
    assert.ok(first.relaycast_worker_heap_used_bytes!.value > 1e6);
    await new Promise((r) => setTimeout(r, 50));
    const second = await values();
    assert.ok(second.relaycast_worker_eventloop_lag_max_seconds!.value < 0.3, JSON.stringify(second));
    // node-level figures are the main thread's alone (a worker's relays would double them)
    const names = new Set((await m.registry.getMetricsAsJSON()).map((x) => x.name));
    for (const n of ['relaycast_streams', 'relaycast_publishers', 'relaycast_ingest_bytes_total'])
      assert.ok(!names.has(n), `${n} is the main thread's`);
    for (const n of ['relaycast_viewers', 'relaycast_egress_bytes_total', 'relaycast_viewer_skips_total'])
      assert.ok(names.has(n), `${n} is reported by each worker for its viewers`);
    const edgeWorker = createMetrics({
      role: 'edge',
      nodeId: 'n',
      version: 'v',
      maxStreams: 10,
      workerIndex: 0,
    });
    assert.ok(
      !(await edgeWorker.registry.getMetricsAsJSON()).some((x) => x.name === 'relaycast_control_plane_up'),
      'a worker never reports control_plane_up as 0 beside the main thread',
    );
    // without workerIndex (the main thread), none of these
    const main = createMetrics({ role: 'all', nodeId: 'n', version: 'v', maxStreams: 10 });
    assert.ok(
      !(await main.registry.getMetricsAsJSON()).some((x) => x.name.startsWith('relaycast_worker_eventloop')),
    );
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
