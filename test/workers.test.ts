/**
 * --workers N: HTTP viewers served by worker threads sharing the HTTP port. What must hold:
 * viewers on every worker get media starting with a keyframe; HLS works through the workers;
 * an edge still pulls each stream from its origin once however many workers ask; a worker that
 * dies is replaced without disturbing viewers on the other one; /metrics merges the workers;
 * SIGTERM stops everything; the workers are threads of the node's one process.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startAll } from '../cli/run.ts';
import { isVideoSequenceHeader, type MediaTag, TAG_VIDEO } from '../media/tag.ts';
import { type FlvRead, openFlv } from './helpers/flv-client.ts';
import {
  getJson,
  inProcessAllConfig,
  killAll,
  publish,
  type RelaycastProcess,
  startRelaycast,
  waitFor,
} from './helpers/process.ts';
import { type RedisServer, startRedis } from './helpers/redis.ts';

const isKeyframe = (t: MediaTag) =>
  t.type === TAG_VIDEO && t.data[0]! >> 4 === 1 && !isVideoSequenceHeader(t.data);
const frames = (r: FlvRead) =>
  r.tags.filter((t) => t.type === TAG_VIDEO && !isVideoSequenceHeader(t.data)).length;

async function metric(adminPort: number, name: string, labels = ''): Promise<number[]> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(labels))
    .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
}

/** The workers (by index) that logged starting a relay pull. */
function workerPulls(p: RelaycastProcess): Set<number> {
  const workers = new Set<number>();
  for (const l of p.logs)
    if (l.msg === 'pulling from origin' && typeof l.worker === 'number') workers.add(l.worker);
  return workers;
}

/** Processes whose parent is `pid` (a worker process would show here; a thread does not). */
function childProcesses(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/**
 * At least `n` HTTP-FLV viewers of live/w, some on each of the two workers: the kernel spreads new
 * connections (SCHED_NONE), and a burst may all land on one worker, so this opens more (at most
 * 2n) until relaycast_worker_viewers shows both with viewers.
 */
async function viewersOnBothWorkers(
  p: { ports: { http: number; admin: number } },
  n: number,
  stream = 'w',
): Promise<FlvRead[]> {
  const url = `http://127.0.0.1:${p.ports.http}/live/${stream}.flv`;
  const viewers = await Promise.all(Array.from({ length: n }, () => openFlv(url)));
  await waitFor(
    'viewers on both workers',
    async () => {
      const per = await Promise.all(
        ['0', '1'].map(
          async (w) => (await metric(p.ports.admin, 'relaycast_worker_viewers', `worker="${w}"`))[0] ?? 0,
        ),
      );
      if (per.every((c) => c > 0)) return true;
      if (viewers.length < 2 * n) viewers.push(await openFlv(url));
      return undefined;
    },
    30_000,
    300,
  );
  return viewers;
}

describe('--workers: the all-in-one', { timeout: 180_000 }, () => {
  let aio: RelaycastProcess;
  before(async () => {
    aio = await startRelaycast('all', ['--workers', '2']);
    publish(`rtmp://127.0.0.1:${aio.ports.rtmp}/live/w`, { size: '320x240' });
    await waitFor(
      'live/w is live',
      async () => {
        const { body } = await getJson<{ streams: { name: string; live?: boolean }[] }>(
          `http://127.0.0.1:${aio.ports.admin}/api/v1/streams`,
        );
        return body.streams.some((s) => s.name === 'w') || undefined;
      },
      20_000,
    );
  });
  after(() => killAll());

  it('viewers spread over both workers get media from a keyframe; one relay pull per worker', async () => {
    const viewers = await viewersOnBothWorkers(aio, 20);
    for (const v of viewers) assert.equal(v.status, 200);
    await waitFor(
      'every viewer has frames',
      () => (viewers.every((v) => frames(v) > 10) ? true : undefined),
      20_000,
    );
    for (const v of viewers) {
      const first = v.tags.find((t) => t.type === TAG_VIDEO && !isVideoSequenceHeader(t.data));
      assert.ok(first && isKeyframe(first), 'starts on a keyframe');
    }
    const pulls = workerPulls(aio);
    assert.equal(pulls.size, 2, `both workers served viewers (${[...pulls].join(',')})`);
    assert.deepEqual(childProcesses(aio.proc.pid!), [], 'the workers are threads of the one process');
    const relayViewers = (await metric(aio.ports.admin, 'relaycast_viewers', 'protocol="pull"')).reduce(
      (a, b) => a + b,
      0,
    );
    assert.equal(relayViewers, 2, 'the main process serves exactly one relay pull per worker');
    assert.deepEqual(await metric(aio.ports.admin, 'relaycast_build_info'), [1]);
    const flvViewers = (await metric(aio.ports.admin, 'relaycast_viewers', 'protocol="flv"')).reduce(
      (a, b) => a + b,
      0,
    );
    assert.equal(flvViewers, viewers.length, '/metrics adds up the workers');
    // node-level figures come from the main thread alone: the workers' relays are not streams
    assert.deepEqual(await metric(aio.ports.admin, 'relaycast_streams'), [1]);
    assert.deepEqual(await metric(aio.ports.admin, 'relaycast_publishers', 'source="pull"'), []);
    assert.deepEqual(await metric(aio.ports.admin, 'relaycast_edge_pulls_active'), [0]);
    // each thread's own event loop and heap, one series per worker
    assert.equal((await metric(aio.ports.admin, 'relaycast_worker_heap_used_bytes')).length, 2);
    assert.equal((await metric(aio.ports.admin, 'relaycast_worker_eventloop_lag_max_seconds')).length, 2);
    for (const v of viewers) v.close();
  });

  it('HLS and the index page work through the workers', async () => {
    const pl = await fetch(`http://127.0.0.1:${aio.ports.http}/live/w.ts.m3u8`);
    assert.equal(pl.status, 200);
    const body = await pl.text();
    const seg = body.split('\n').find((l) => l.endsWith('.ts') || l.includes('.ts?'));
    assert.ok(seg, body);
    const ts = Buffer.from(
      await (await fetch(`http://127.0.0.1:${aio.ports.http}/live/${seg}`)).arrayBuffer(),
    );
    assert.ok(ts.length > 188 && ts[0] === 0x47, 'an MPEG-TS segment');
    const index = await (await fetch(`http://127.0.0.1:${aio.ports.http}/`)).text();
    assert.match(index, /live\/w/);
  });

  it('SIGTERM stops the node, workers included', async () => {
    await aio.stop('SIGTERM');
    assert.equal(aio.proc.exitCode, 0);
    assert.ok(
      aio.logs.some((l) => l.msg === 'viewer workers listening'),
      'the workers had started',
    );
  });
});

describe('--workers: an edge still pulls each stream once per node', { timeout: 180_000 }, () => {
  let redis: RedisServer;
  let origin: RelaycastProcess;
  let edge: RelaycastProcess;
  before(async () => {
    redis = await startRedis();
    const common = ['--redis-url', redis.url, '--lease-ttl', '2'];
    origin = await startRelaycast('origin', [
      ...common,
      '--node-id',
      'o1',
      '--http-port',
      '0',
      '--grpc-port',
      '0',
    ]);
    edge = await startRelaycast('edge', [
      ...common,
      '--node-id',
      'e1',
      '--workers',
      '2',
      '--internal-port',
      '0',
      '--grpc-port',
      '0',
    ]);
  });
  after(() => killAll());

  it('20 viewers over 2 workers cost the origin one pull', async () => {
    publish(`rtmp://127.0.0.1:${origin.ports.rtmp}/live/e`, { size: '320x240' });
    await waitFor(
      'registered',
      async () => {
        const { body } = await getJson<{ streams: { name: string }[] }>(
          `http://127.0.0.1:${edge.ports.admin}/api/v1/registry`,
        );
        return body.streams.some((s) => s.name === 'e') || undefined;
      },
      20_000,
    );
    const viewers = await Promise.all(
      Array.from({ length: 20 }, () => openFlv(`http://127.0.0.1:${edge.ports.http}/live/e.flv`)),
    );
    await waitFor(
      'every viewer has frames',
      () => (viewers.every((v) => frames(v) > 10) ? true : undefined),
      20_000,
    );
    assert.equal(workerPulls(edge).size, 2, 'both workers served viewers');
    const { body } = await getJson<{ pullsServed: number }>(
      `http://127.0.0.1:${origin.ports.admin}/api/v1/pulls`,
    );
    assert.equal(body.pullsServed, 1);
    for (const v of viewers) v.close();
  });
});

describe('--workers when startAll runs inside another program (here: this test file)', {
  timeout: 120_000,
}, () => {
  after(() => killAll());

  it('the workers run their own entry with the given config and serve viewers; one that dies is replaced while the other keeps its viewers; close() stops them', async () => {
    const { config, ports } = await inProcessAllConfig(2);
    // Before workers had their own entry, cluster.fork re-ran this test file in each worker.
    const node = await startAll(config, 'embedded');
    const pool = node.workers!;
    try {
      assert.equal(pool.threads().length, 2, 'two worker threads');
      publish(`rtmp://127.0.0.1:${ports.rtmp}/live/emb`, { size: '160x120' });
      await waitFor(
        'a viewer through the workers gets frames',
        async () => {
          const r = await openFlv(`http://127.0.0.1:${ports.http}/live/emb.flv`);
          if (r.status === 200) {
            await waitFor('frames', () => (frames(r) > 5 ? true : undefined), 20_000);
            r.close();
            return true;
          }
          r.close();
          await new Promise((res) => setTimeout(res, 200));
          return undefined;
        },
        30_000,
      );
      const viewers = await viewersOnBothWorkers({ ports }, 10, 'emb');
      await waitFor(
        'viewers have frames',
        () => (viewers.every((v) => frames(v) > 5) ? true : undefined),
        20_000,
      );
      const [victim, survivor] = pool.threads();
      const ended = viewers.map(() => false);
      viewers.forEach((v, i) => {
        void v.done.then(() => {
          ended[i] = true;
        });
      });
      await victim!.terminate(); // as if the thread had died of an uncaught error
      await waitFor(
        'a new worker replaces it',
        () => (pool.threads().length === 2 && !pool.threads().includes(victim!) ? true : undefined),
        15_000,
      );
      assert.ok(pool.threads().includes(survivor!), 'the other worker was not restarted');
      const counts = viewers.map((v) => frames(v));
      await new Promise((r) => setTimeout(r, 3000));
      const moving = viewers.map((v, i) => frames(v) > counts[i]! + 10);
      // the dead worker's viewers lost their connection; every other viewer kept playing
      assert.ok(ended.some(Boolean), 'some viewers were on the dead worker');
      assert.ok(moving.some(Boolean), 'some viewers were on the other worker');
      viewers.forEach((_, i) => {
        assert.ok(ended[i] || moving[i], `viewer ${i} neither ended nor kept playing`);
      });
      for (const v of viewers) v.close();
      // new viewers start (on the new worker or the survivor)
      await waitFor(
        'a new viewer plays',
        async () => {
          const v = await openFlv(`http://127.0.0.1:${ports.http}/live/emb.flv`);
          await new Promise((r) => setTimeout(r, 1500));
          v.close();
          return frames(v) > 5 ? true : undefined;
        },
        20_000,
      );
      await node.stopAccepting();
      await node.close();
      assert.equal(pool.threads().length, 0, 'close() ended the workers');
    } finally {
      await node.close().catch(() => {});
    }
  });
});
