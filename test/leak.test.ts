/**
 * Leak test (issue 14): an origin and an edge in this process on real loopback sockets; ffmpeg
 * publishes; 100 viewers of every kind attach (HTTP-FLV and RTMP on the origin, HLS playlist +
 * segment, HTTP-FLV on the edge through its one pull); the publisher is kicked, the stream ends,
 * the node drains. Then every object reports closed with a reason, process.getActiveResourcesInfo()
 * is back to its baseline (no socket, timer or child left) and the heap is back near its baseline.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { InternalHttpServer } from '../core/internal-http.ts';
import { createLogger } from '../core/log.ts';
import { createMetrics } from '../core/metrics.ts';
import { RtmpServer } from '../core/rtmp/server.ts';
import { LocalHubSource } from '../core/sources.ts';
import { EdgePuller } from '../edge/pull.ts';
import type { Route, RouteResolver } from '../edge/route.ts';
import { ViewerHttpServer } from '../edge/viewer-http.ts';
import { StreamHub } from '../media/hub/hub.ts';
import type { HubStream, Publication } from '../media/hub/stream.ts';
import type { Viewer } from '../media/hub/viewer.ts';
import { RtmpClient } from '../media/rtmp/client.ts';
import { HlsPackager } from '../origin/hls.ts';
import { backToBaseline, resources, until } from './helpers/leak.ts';
import { killAll, publish } from './helpers/process.ts';
import { trackTimers } from './helpers/timer-tracker.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const N = 100;
const log = createLogger('silent');

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** An HTTP GET without keep-alive (a pooled socket would outlive the test on purpose). */
function get(url: string): Promise<{ status: number; body: Buffer; close(): void; bytes(): number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      const parts: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (parts.length < 1000) parts.push(c);
      });
      const out = {
        status: res.statusCode ?? 0,
        get body() {
          return Buffer.concat(parts);
        },
        close: () => req.destroy(),
        bytes: () => n,
      };
      resolve(out);
    });
    req.on('error', reject);
    req.end();
  });
}

function readAll(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('leak: every object closes and nothing stays behind', () => {
  after(killAll);

  it(`publish, ${N} viewers of every kind, kick, drain: all closed, resources and heap back to baseline`, async () => {
    const metrics = createMetrics({ role: 'all', nodeId: 'leak', version: '0', maxStreams: 10 });
    await settle();
    gc();
    const baseline = resources();
    const heapBaseline = process.memoryUsage().heapUsed;
    const timers = trackTimers();

    // ---- origin: RTMP ingest + play, viewer HTTP (FLV, HLS), internal HTTP for edges
    const hub = new StreamHub({ republishWaitMs: 1000 });
    const source = new LocalHubSource(hub);
    const hls = new HlsPackager(
      hub,
      {
        targetDurationMs: 1000,
        maxSegmentDurationMs: 2000,
        windowSegments: 5,
        maxWindowBytes: 16 * 1024 * 1024,
        dir: undefined,
        keepEndedMs: 60_000,
        firstSegmentWaitMs: 20_000,
      },
      metrics,
      log,
    );
    const publications: Publication[] = [];
    const rtmp = new RtmpServer(
      {
        publish: async (req, onEnd) => {
          const pub = hub.publish(req.app, req.streamName, { sessionId: req.remote, kind: 'rtmp' }, onEnd);
          publications.push(pub);
          return pub;
        },
        play: (req) => source.acquire(req.app, req.name),
      },
      {
        host: '127.0.0.1',
        port: 0,
        maxConnectionsPerIp: 0,
        handshakeTimeoutMs: 10_000,
        idlePublisherTimeoutMs: 0,
        maxMessageBytes: 8 * 1024 * 1024,
        maxChunkSize: 65536,
        amfMaxDepth: 16,
        amfMaxStringBytes: 65536,
      },
      log,
    );
    const viewerOpts = {
      host: '127.0.0.1',
      port: 0,
      playAuth: 'open' as const,
      playSecrets: [],
      maxViewersPerNode: 0,
      maxViewersPerStream: 0,
      maxConnectionsPerIp: 0,
      listStreams: async () => [],
      viewerCount: () => 0,
    };
    const originHttp = new ViewerHttpServer(source, hls, viewerOpts, metrics, log);
    const internal = new InternalHttpServer(
      hub,
      source,
      hls,
      { host: '127.0.0.1', port: 0, clusterToken: undefined },
      metrics,
      log,
    );
    const rtmpPort = await rtmp.listen();
    const httpPort = await originHttp.listen();
    const internalPort = await internal.listen();

    // ---- edge: pulls from the origin's internal port
    const edgeHub = new StreamHub({ republishWaitMs: 1000 });
    let route: Route | undefined;
    const resolver: RouteResolver = {
      resolve: async () => route,
      watch: () => () => {},
    };
    const puller = new EdgePuller(
      edgeHub,
      resolver,
      {
        clusterToken: undefined,
        pullIdleTimeoutMs: 500,
        waitForStreamMs: 0,
        failoverDeadlineMs: 1000,
        bodyTimeoutMs: 10_000,
      },
      metrics,
      log,
    );
    const edgeHttp = new ViewerHttpServer(puller, undefined, viewerOpts, metrics, log);
    const edgePort = await edgeHttp.listen();

    // ---- publish
    const ffmpeg = publish(`rtmp://127.0.0.1:${rtmpPort}/live/leak`, { size: '160x120', rate: 25, gop: 25 });
    await until('stream live', () => hub.getLive('live', 'leak') !== undefined);
    const stream = hub.getLive('live', 'leak') as HubStream;
    await until('a keyframe cached', () => stream.gopCacheTags > 0);
    route = {
      app: 'live',
      name: 'leak',
      originNodeId: 'origin',
      originUrl: `http://127.0.0.1:${internalPort}`,
      generation: 1,
      role: 'primary',
      pullUrl: `http://127.0.0.1:${internalPort}/live/leak.flv`,
    };

    // ---- 100 viewers of every kind
    const flv = await Promise.all(
      Array.from({ length: N }, () => get(`http://127.0.0.1:${httpPort}/live/leak.flv`)),
    );
    const players = await Promise.all(
      Array.from({ length: N }, async () => {
        const c = await RtmpClient.open('127.0.0.1', rtmpPort);
        let bytes = 0;
        c.onMedia = (m) => {
          bytes += m.payload.length;
        };
        await c.connect('live');
        const sid = await c.createStream();
        await c.play(sid, 'leak');
        return { c, bytes: () => bytes };
      }),
    );
    const edgeFlv = await Promise.all(
      Array.from({ length: N }, () => get(`http://127.0.0.1:${edgePort}/live/leak.flv`)),
    );
    assert.equal(puller.activePulls, 1, 'one pull for every edge viewer');
    const pull = puller.pullOf('live', 'leak');
    assert.ok(pull);
    const edgeStream = edgeHub.get('live', 'leak') as HubStream;
    let hlsOk = 0;
    for (let i = 0; i < N; i++) {
      const pl = await readAll(`http://127.0.0.1:${httpPort}/live/leak.m3u8`);
      assert.equal(pl.status, 200, pl.text);
      const seg = pl.text.split('\n').find((l) => l.endsWith('.ts'));
      assert.ok(seg, pl.text);
      const s = await readAll(`http://127.0.0.1:${httpPort}/live/${seg}`);
      if (s.status === 200) hlsOk++;
    }
    assert.ok(hlsOk > N / 2, `${hlsOk} HLS segment reads answered`);
    await until(
      'every viewer got media',
      () => [...flv, ...edgeFlv].every((v) => v.bytes() > 0) && players.every((p) => p.bytes() > 0),
    );
    const originViewers: Viewer[] = [...stream.viewers];
    const edgeViewers: Viewer[] = [...edgeStream.viewers];
    assert.equal(originViewers.length, 2 * N + 1, 'FLV + RTMP + the edge pull');
    assert.equal(edgeViewers.length, N);

    // ---- kick the publisher; the stream ends after the republish wait; the edge gives up
    const pub = stream.publisher as Publication;
    assert.equal(stream.kickPublisher('kicked'), true);
    assert.equal(pub.closeReason, 'kicked');
    await until('origin stream ended', () => stream.closed);
    await until('edge pull ended', () => pull.closed);
    await until('edge stream ended', () => edgeStream.closed);

    // ---- drain the node
    puller.close();
    edgeHub.close();
    hls.close();
    hub.close();
    rtmp.closeAll();
    originHttp.closeAllConnections();
    edgeHttp.closeAllConnections();
    await Promise.all([originHttp.close(), edgeHttp.close(), internal.close()]);
    await ffmpeg.stop();
    for (const p of players) p.c.close();
    for (const v of [...flv, ...edgeFlv]) v.close();

    // ---- every object closed, with a reason
    for (const p of publications) assert.ok(p.closed, 'publication closed');
    assert.equal(stream.closeReason, 'stream-ended');
    for (const v of originViewers) assert.equal(v.closeReason, 'stream-ended', `origin ${v.protocol} viewer`);
    for (const v of edgeViewers) assert.equal(v.closeReason, 'stream-ended', 'edge viewer');
    assert.ok(
      pull.closeReason === 'failover-deadline' || pull.closeReason === 'stream-closed',
      pull.closeReason,
    );
    assert.equal(hub.size, 0);
    assert.equal(edgeHub.size, 0);
    assert.equal(rtmp.sessionCount, 0);

    // ---- nothing left running: sockets, timers (unref'd ones too: they hold their closures),
    // child processes
    try {
      await backToBaseline(baseline, timers);
    } finally {
      timers.uninstall();
    }

    // ---- heap back near its baseline
    let heap = 0;
    for (let i = 0; i < 5; i++) {
      await settle();
      gc();
      heap = process.memoryUsage().heapUsed;
      if (heap < heapBaseline + 16 * 1024 * 1024) break;
    }
    assert.ok(
      heap < heapBaseline + 16 * 1024 * 1024,
      `heap ${Math.round(heap / 1e6)} MB vs baseline ${Math.round(heapBaseline / 1e6)} MB`,
    );
  });
});
