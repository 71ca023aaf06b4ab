import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { RelaycastError } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import { parseAnySourceUrl, pullsOwnStream } from '../../core/source-url.ts';
import { startTestRtmpServer } from '../../core/testing/rtmp-server.ts';
import { encodeFlvTag, flvFileHeader } from '../../media/flv/tag.ts';
import { avcFrame, avcSequenceHeader, PPS, SPS } from '../../media/hls/fixtures.ts';
import { StreamHub } from '../../media/hub/hub.ts';
import { TsMuxer } from '../../media/mpegts/muxer.ts';
import { type MediaTag, TAG_VIDEO } from '../../media/tag.ts';
import { SourceManager } from './manager.ts';
import { hlsVariants, PullSource, parseHlsMediaPlaylist, retryDelayMs } from './pull.ts';

const log = createLogger('silent');

describe('pull sources', () => {
  it('source URLs: HTTP-FLV, HLS and RTMP pulls next to UDP/RTP; anything else is RC_SOURCE_URL_INVALID', () => {
    assert.deepEqual(parseAnySourceUrl('http://up.example/live/x.flv'), {
      protocol: 'http-flv',
      url: 'http://up.example/live/x.flv',
    });
    assert.deepEqual(parseAnySourceUrl('https://up.example/hls/x.m3u8?token=1'), {
      protocol: 'hls',
      url: 'https://up.example/hls/x.m3u8?token=1',
    });
    assert.deepEqual(parseAnySourceUrl('rtmp://up.example/live/x'), {
      protocol: 'rtmp',
      url: 'rtmp://up.example/live/x',
    });
    assert.equal(parseAnySourceUrl('udp://239.1.1.1:5000').protocol, 'udp');
    for (const bad of [
      'http://up.example/live/x.mp4',
      'rtmp://up.example/x',
      'ftp://h/x.flv',
      'http://u:p@h/x.flv',
      'nonsense',
    ])
      assert.throws(() => parseAnySourceUrl(bad), { code: 'RC_SOURCE_URL_INVALID' }, bad);
  });

  it('a master playlist leads to its highest-bandwidth variant, resolved against the playlist URL', () => {
    const master = [
      '#EXTM3U',
      '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360',
      'low/index.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080',
      'https://cdn.example/high.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=2500000',
      'mid.m3u8',
    ].join('\n');
    assert.deepEqual(hlsVariants(master, 'http://up.example/tv/master.m3u8'), [
      'https://cdn.example/high.m3u8',
      'http://up.example/tv/mid.m3u8',
      'http://up.example/tv/low/index.m3u8',
    ]);
    assert.deepEqual(hlsVariants('#EXTM3U\n#EXTINF:2,\na.ts\n', 'http://h/x.m3u8'), []);
  });

  it('media playlists: sequence numbers, discontinuities, the end; encrypted and fMP4 refused', () => {
    const pl = parseHlsMediaPlaylist(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:3',
        '#EXT-X-TARGETDURATION:4',
        '#EXT-X-MEDIA-SEQUENCE:120',
        '#EXTINF:4.0,',
        'seg120.ts',
        '#EXT-X-DISCONTINUITY',
        '#EXTINF:4.0,',
        '/abs/seg121.ts?t=1',
        '#EXT-X-ENDLIST',
      ].join('\r\n'),
      'http://up.example/live/x.m3u8',
    );
    assert.deepEqual(pl, {
      targetDurationS: 4,
      mediaSequence: 120,
      ended: true,
      segments: [
        { uri: 'http://up.example/live/seg120.ts', sequence: 120, discontinuity: false },
        { uri: 'http://up.example/abs/seg121.ts?t=1', sequence: 121, discontinuity: true },
      ],
    });
    assert.throws(() => parseHlsMediaPlaylist('<html>', 'http://h/x.m3u8'), { code: 'RC_SOURCE_UPSTREAM' });
    assert.throws(
      () =>
        parseHlsMediaPlaylist(
          '#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="k"\n#EXTINF:2,\na.ts',
          'http://h/x.m3u8',
        ),
      /encrypted HLS/,
    );
    assert.throws(
      () => parseHlsMediaPlaylist('#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n', 'http://h/x.m3u8'),
      /fMP4/,
    );
    assert.throws(
      () =>
        parseHlsMediaPlaylist('#EXTM3U\n#EXTINF:2,\n#EXT-X-BYTERANGE:1000@0\nall.ts\n', 'http://h/x.m3u8'),
      /byte-range/,
    );
  });
});

describe('reconnect backoff', () => {
  it('doubles from 1 s to a 30 s ceiling, jittered over the upper half of it', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 50].map((f) => [retryDelayMs(f, 0), retryDelayMs(f, 0.999999)]),
      [
        [500, 1000],
        [1000, 2000],
        [2000, 4000],
        [4000, 8000],
        [8000, 16000],
        [15000, 30000],
        [15000, 30000],
        [15000, 30000],
      ],
    );
  });
});

describe('the loop guard', () => {
  const listeners = ['http://node1.example:8080', 'rtmp://node1.example:1935', 'http://127.0.0.1:9000'];
  it('a pull of <app>/<name> from one of this node’s listeners is its own stream; anything else is not', () => {
    const own = (url: string, app = 'live', name = 'x') => pullsOwnStream(url, app, name, listeners);
    assert.equal(own('http://node1.example:8080/live/x.flv'), true);
    assert.equal(own('http://NODE1.example:8080/live/x.m3u8?token=t'), true);
    assert.equal(own('rtmp://node1.example/live/x'), true, 'default port 1935');
    assert.equal(own('http://localhost:9000/live/x.flv'), true, 'loopback names match each other');
    assert.equal(own('http://node1.example:8080/live/y.flv'), false, 'another stream');
    assert.equal(own('http://node1.example:8080/other/x.flv'), false, 'another app');
    assert.equal(own('http://node2.example:8080/live/x.flv'), false, 'another server');
    assert.equal(own('rtmp://node1.example:8080/live/x'), false, 'the HTTP port is not an RTMP listener');
    assert.equal(own('http://node1.example:1935/live/x.flv'), false, 'the RTMP port is not an HTTP listener');
    assert.equal(own('udp://239.1.1.1:5000'), false);
  });

  it('the node refuses such a source with RC_SOURCE_LOOP (YAML `sources:` take this path)', async () => {
    const manager = new SourceManager(new StreamHub(), log, { ownListeners: () => listeners });
    await assert.rejects(
      manager.set({ name: 'x', url: 'http://127.0.0.1:9000/live/x.flv' }),
      (err: RelaycastError) =>
        err.code === 'RC_SOURCE_LOOP' && /cannot pull its own stream/.test(err.message),
    );
    assert.deepEqual(manager.list(), []);
    manager.close();
  });
});

/** One encoder's output cut into HLS segments: 1 s of 25 fps H.264 each, continuity counters running on. */
class Encoder {
  private readonly muxer = new TsMuxer();
  private frame = 0;
  private readonly t0Ms: number;
  constructor(t0Ms: number) {
    this.t0Ms = t0Ms;
    this.muxer.setTracks({ video: 'h264' });
  }
  segment(): Buffer {
    const start = Buffer.from([0, 0, 0, 1]);
    this.muxer.writeTables();
    for (let i = 0; i < 25; i++, this.frame++) {
      const slice = Buffer.alloc(300, (this.frame % 200) + 1);
      slice[0] = i === 0 ? 0x65 : 0x41;
      const au =
        i === 0 ? Buffer.concat([start, SPS, start, PPS, start, slice]) : Buffer.concat([start, slice]);
      const t = this.t0Ms + this.frame * 40;
      this.muxer.writeVideo(au, t, t, i === 0);
    }
    return this.muxer.flush();
  }
}

/** An HLS upstream the test scripts: a master playlist, one media playlist, its segments. */
class FakeHls {
  readonly fetched: string[] = [];
  segments: { uri: string; data: Buffer; discontinuity?: boolean }[] = [];
  firstSequence = 0;
  targetDuration = 1;
  playlistStatus = 200;
  private server = createServer((req, res) => {
    const path = req.url ?? '';
    this.fetched.push(path);
    if (path === '/entry.m3u8') {
      // a CDN sending players elsewhere: relative URIs then resolve against /tv/
      res.writeHead(302, { location: '/tv/master.m3u8' }).end();
      return;
    }
    if (path === '/tv/master.m3u8') {
      res.end(
        '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000\nlow.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=900000\nhi/index.m3u8\n',
      );
      return;
    }
    if (path === '/tv/hi/index.m3u8' && this.playlistStatus === 200) {
      const lines = [
        '#EXTM3U',
        `#EXT-X-TARGETDURATION:${this.targetDuration}`,
        `#EXT-X-MEDIA-SEQUENCE:${this.firstSequence}`,
      ];
      for (const s of this.segments) {
        if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
        lines.push('#EXTINF:1.0,', s.uri);
      }
      res.end(`${lines.join('\n')}\n`);
      return;
    }
    const seg = this.segments.find((s) => `/tv/hi/${s.uri}` === path);
    if (seg) res.end(seg.data);
    else {
      res.statusCode = path === '/tv/hi/index.m3u8' ? this.playlistStatus : 404;
      res.end();
    }
  });
  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/entry.m3u8`;
  }
  got(uri: string): boolean {
    return this.fetched.includes(`/tv/hi/${uri}`);
  }
  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }
}

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function videoTags(hub: StreamHub, name: string): MediaTag[] {
  const tags: MediaTag[] = [];
  const tapped = new Set<unknown>();
  hub.on('publish', (stream) => {
    if (stream.name !== name || tapped.has(stream)) return;
    tapped.add(stream);
    stream.addTap({ onTag: (t) => t.type === TAG_VIDEO && tags.push(t) });
  });
  return tags;
}

describe('PullSource from an HLS upstream', () => {
  it('polls the best variant from the live edge, in order; counts skipped segments as lost; stays monotonic across discontinuities, garbage, a restarted playlist and a failing upstream', async () => {
    const up = new FakeHls();
    const url = await up.start();
    const hub = new StreamHub({ republishWaitMs: 30_000 });
    const tags = videoTags(hub, 'tv');
    const enc1 = new Encoder(10_000);
    for (let i = 0; i < 5; i++) up.segments.push({ uri: `a${i}.ts`, data: enc1.segment() });
    const source = new PullSource(
      hub,
      { protocol: 'hls', url },
      { app: 'live', name: 'tv', url, silenceTimeoutMs: 5000, random: () => 0 },
      log,
    );
    try {
      await source.start();
      await until('the live edge', () => up.got('a4.ts') && source.state === 'receiving');
      assert.ok(up.got('a2.ts') && up.got('a3.ts'), 'three segments back from the edge');
      assert.ok(!up.got('a0.ts') && !up.got('a1.ts'), 'older segments are not fetched');
      assert.ok(!up.fetched.includes('/tv/low.m3u8'), 'the lower variant is never used');

      // A new segment is taken; then two leave the playlist before a poll sees them.
      up.segments.push({ uri: 'a5.ts', data: enc1.segment() });
      await until('a5', () => up.got('a5.ts'));
      for (let i = 6; i < 10; i++) up.segments.push({ uri: `a${i}.ts`, data: enc1.segment() });
      up.segments = up.segments.slice(-2);
      up.firstSequence = 8;
      await until('a9', () => up.got('a9.ts'));
      assert.ok(!up.got('a6.ts') && !up.got('a7.ts'));
      assert.equal(source.stats().rtpLost, 2);

      // Another encoder after EXT-X-DISCONTINUITY: its clock is 1.5 s behind (a small step back
      // that only the tag reveals), its continuity counters start afresh; then a garbage segment.
      const discontinuities = source.stats().discontinuities;
      const enc2 = new Encoder(10_000 + 10 * 1000 - 1500);
      up.segments.push({ uri: 'b0.ts', data: enc2.segment(), discontinuity: true });
      up.segments.push({ uri: 'junk.ts', data: Buffer.from('<html>not a segment</html>'.repeat(50)) });
      up.segments.push({ uri: 'b1.ts', data: enc2.segment() });
      await until('b1', () => up.got('b1.ts'));
      assert.ok(source.stats().discontinuities > discontinuities, 'the discontinuity was applied');

      // The upstream restarts its playlist from sequence 0: followed from its live edge.
      const enc3 = new Encoder(0);
      up.firstSequence = 0;
      up.segments = [0, 1, 2, 3].map((i) => ({ uri: `c${i}.ts`, data: enc3.segment() }));
      await until('the restarted playlist', () => up.got('c3.ts'));
      assert.ok(up.got('c1.ts') && !up.got('c0.ts'));
      assert.equal(source.stats().reconnects, 0, 'all of this on one connection');

      // The playlist fails: the source reconnects (backoff) and resumes when it is back.
      up.playlistStatus = 503;
      await until('a reconnect', () => source.stats().reconnects >= 1);
      up.playlistStatus = 200;
      up.segments.push({ uri: 'c4.ts', data: enc3.segment() });
      await until('c4 after the reconnect', () => up.got('c4.ts') && source.state === 'receiving');
      assert.equal(up.fetched.filter((p) => p === '/tv/hi/c3.ts').length, 1, 'resumed after c3, no replay');

      const st = source.stats();
      assert.equal(st.ccErrors, 0, 'gaps and discontinuities are not counted as CC errors');
      assert.ok(st.syncLosses + st.discontinuities > 0);
      assert.equal(st.video, 'h264');
      const ts = tags.map((t) => t.timestamp);
      assert.ok(tags.length > 100, `${tags.length} video tags`);
      for (let i = 1; i < ts.length; i++)
        assert.ok(ts[i]! >= ts[i - 1]!, `monotonic at ${i}: ${ts[i - 1]} → ${ts[i]}`);
    } finally {
      source.close('test-end');
      up.close();
      hub.close();
    }
  });

  it('segments a target duration apart are not silence, even with a shorter --source-silence-timeout', async () => {
    const up = new FakeHls();
    up.targetDuration = 2;
    const url = await up.start();
    const hub = new StreamHub();
    const enc = new Encoder(0);
    up.segments.push({ uri: 's0.ts', data: enc.segment() });
    const source = new PullSource(
      hub,
      { protocol: 'hls', url },
      { app: 'live', name: 'slow', url, silenceTimeoutMs: 300, random: () => 0 },
      log,
    );
    try {
      await source.start();
      await until('s0', () => up.got('s0.ts') && source.state === 'receiving');
      for (let i = 1; i <= 3; i++) {
        await new Promise((r) => setTimeout(r, 1500));
        up.segments.push({ uri: `s${i}.ts`, data: enc.segment() });
        await until(`s${i}`, () => up.got(`s${i}.ts`), 10_000);
      }
      assert.equal(source.stats().reconnects, 0);
      assert.equal(source.state, 'receiving');
      assert.equal(up.fetched.filter((p) => p === '/tv/master.m3u8').length, 1, 'one connection');
    } finally {
      source.close('test-end');
      up.close();
      hub.close();
    }
  });
});

describe('PullSource over RTMP', () => {
  it('a play that never delivers media is dropped and retried; media that arrives is published, and a stall is retried too', async () => {
    const upstream = new StreamHub();
    const srv = await startTestRtmpServer(upstream);
    // live upstream (play starts) that sends nothing yet
    const pub = upstream.publish('live', 'quiet', { sessionId: 'test', kind: 'rtmp', remote: 'test' });
    const hub = new StreamHub();
    const tags = videoTags(hub, 'q');
    const url = `rtmp://127.0.0.1:${srv.port}/live/quiet`;
    const source = new PullSource(
      hub,
      { protocol: 'rtmp', url },
      { app: 'live', name: 'q', url, silenceTimeoutMs: 500, timeoutMs: 1500, random: () => 0 },
      log,
    );
    try {
      await source.start();
      await until('a retry of the quiet play', () => source.stats().reconnects >= 1, 15_000);
      assert.equal(source.state, 'waiting');
      assert.equal(tags.length, 0);
      const seq = avcSequenceHeader(0);
      const key = avcFrame(0, true);
      pub.pushTag(seq.type, seq.timestamp, seq.data);
      pub.pushTag(key.type, key.timestamp, key.data);
      await until('media in the hub', () => source.state === 'receiving' && tags.length >= 2, 15_000);
      assert.equal(source.stats().video, 'h264');
      const before = source.stats().reconnects;
      await until('a retry of the stalled play', () => source.stats().reconnects > before, 15_000);
    } finally {
      source.close('test-end');
      pub.close('closed');
      srv.close();
      hub.close();
      upstream.close();
    }
  });
});

describe('PullSource over HTTP-FLV', () => {
  it('garbage is counted and retried, redirects are followed, an ended body is retried; the tags reach the hub', async () => {
    const requests: string[] = [];
    const seq = avcSequenceHeader(0);
    const flv = Buffer.concat([
      flvFileHeader(false, true),
      encodeFlvTag(seq.type, seq.timestamp, seq.data),
      ...[0, 40, 80].map((t) => {
        const f = avcFrame(t, t === 0);
        return encodeFlvTag(f.type, f.timestamp, f.data);
      }),
    ]);
    const server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (requests.length === 1) res.end('<html>this is not FLV</html>');
      else if (req.url === '/live/x.flv') res.writeHead(302, { location: '/node7/live/x.flv' }).end();
      else res.end(flv); // then the body ends: the upstream stopped
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/live/x.flv`;
    const hub = new StreamHub();
    const tags = videoTags(hub, 'f');
    const lines: { code?: string; count?: number; msg: string }[] = [];
    const capture = pino({ level: 'warn' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const source = new PullSource(
      hub,
      { protocol: 'http-flv', url },
      { app: 'live', name: 'f', url, silenceTimeoutMs: 2000, problemLogIntervalMs: 100, random: () => 0 },
      capture,
    );
    try {
      await source.start();
      await until('the FLV tags', () => tags.length >= 4, 15_000);
      await until('a retry after the body ended', () => requests.length >= 4, 15_000);
      assert.deepEqual(requests.slice(0, 3), ['/live/x.flv', '/live/x.flv', '/node7/live/x.flv']);
      assert.ok(source.stats().reconnects >= 2);
      assert.equal(source.stats().video, 'h264');
      await until('the problem log', () => lines.some((l) => l.code === 'RC_SOURCE_UPSTREAM'), 15_000);
      const bad = lines.filter((l) => l.code === 'RC_FLV_BAD_HEADER');
      assert.deepEqual(
        bad.map((l) => [l.count, l.msg]),
        [[1, 'bad source input in the last interval']],
        'the garbage, logged once with its code',
      );
      assert.deepEqual(
        tags.slice(0, 4).map((t) => t.data.subarray(0, 2).toString('hex')),
        ['1700', '1701', '2701', '2701'],
        'the tags as sent: no transcoding',
      );
    } finally {
      source.close('test-end');
      server.close();
      server.closeAllConnections();
      hub.close();
    }
  });
});
