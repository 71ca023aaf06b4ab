/**
 * Low-Latency HLS end to end on the all-in-one, with an OBS-like publisher (ffmpeg, 250-frame GOP
 * = 8.3 s): ffprobe/ffmpeg decode the LL playlist, blocking reloads and preload hints answer when
 * the part appears (400 for requests too far ahead), signed tokens reach every URI, a republish
 * inserts a discontinuity, and hls.js in headless Chromium plays it. Every playlist the server
 * produces during the run (the test's and the browser's) goes through the LL-HLS validator.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { signedQuery } from '../core/signing.ts';
import { LlPlaylistValidator, type ParsedLlPlaylist } from '../media/hls/ll-validate.ts';
import { launchChromium, noChromium, watchPlayback } from './helpers/browser.ts';
import {
  killAll,
  type Publisher,
  publish,
  type RelaycastProcess,
  run,
  startClusterNode,
  startRelaycast,
  waitFor,
} from './helpers/process.ts';
import { type RedisServer, startRedis } from './helpers/redis.ts';

/** Validators per stream (media sequence must never go back within one). */
const validators = new Map<string, LlPlaylistValidator>();
function validate(stream: string, text: string, label: string): ParsedLlPlaylist {
  let v = validators.get(stream);
  if (!v) {
    v = new LlPlaylistValidator();
    validators.set(stream, v);
  }
  return v.check(text, label);
}

async function getPlaylist(url: string, stream: string): Promise<ParsedLlPlaylist> {
  const res = await fetch(url);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return validate(stream, text, url);
}

/** (msn, part) of a part URI like 17962806171.3.m4s?… */
function partOf(uri: string): { msn: number; part: number } {
  const m = /(\d+)\.(\d+)\.m4s/.exec(uri);
  assert.ok(m, uri);
  return { msn: Number(m[1]), part: Number(m[2]) };
}

/**
 * Opens the player page in LL-HLS mode in headless Chromium: playback must start and advance with
 * no player error, using blocking reloads; every playlist the browser gets is validated.
 */
async function playInChromium(pageUrl: string, stream: string): Promise<void> {
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    const seen: Promise<void>[] = [];
    let playlists = 0;
    let blockingReloads = 0;
    let deltas = 0;
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('response', (res) => {
      const url = new URL(res.url());
      if (!url.pathname.endsWith('/ll.m3u8') || res.status() !== 200) return;
      playlists++;
      if (url.searchParams.has('_HLS_msn')) blockingReloads++;
      if (url.searchParams.has('_HLS_skip')) deltas++;
      seen.push(
        res.text().then(
          (t) => void validate(stream, t, `${stream} ${url.pathname}${url.search}`),
          () => undefined, // the page closed before the body was read
        ),
      );
    });
    await page.goto(pageUrl);
    // Pictures, not just the clock running on audio: a 250-frame GOP must not hold video back.
    const played = await watchPlayback(page, 4, 60);
    const state = (await page.evaluate(
      '({ errors: [...window.relaycastPlayer.errors], mode: window.relaycastPlayer.mode, latency: window.relaycastPlayer.latency() })',
    )) as { errors: string[]; mode: string; latency: number | null };
    await page.close();
    await Promise.all(seen);
    assert.equal(state.mode, 'llhls');
    assert.deepEqual(state.errors, []);
    assert.deepEqual(pageErrors, []);
    assert.ok(played.advanced > 4, `currentTime advanced only ${played.advanced} s`);
    assert.ok(played.decoded > 60, `only ${played.decoded} video frames decoded`);
    assert.ok(blockingReloads > 0, `hls.js used blocking reloads (${playlists} playlists)`);
    // A figure for the report, not a pass/fail timing: latency from PROGRAM-DATE-TIME.
    console.log(
      `# ${stream}: hls.js LL-HLS latency (PDT) ${state.latency} s; ${playlists} playlists, ${blockingReloads} blocking, ${deltas} delta updates`,
    );
  } finally {
    await browser?.close();
  }
}

// Every playlist fetched in this file, by the test or by the browser, met the MUST rules.
after(() => {
  assert.ok(validators.size > 0);
  for (const [stream, v] of validators)
    assert.deepEqual(v.problems, [], `${stream}: ${v.checked} playlists checked`);
});

describe('LL-HLS on the all-in-one (250-frame GOP publisher)', { timeout: 240_000 }, () => {
  let rc: RelaycastProcess;
  let pub: Publisher;
  let base: string;

  before(async () => {
    rc = await startRelaycast('all', ['--hls-part-target', '0.333']);
    base = `http://127.0.0.1:${rc.ports.http}/live`;
    pub = publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/ll`, { size: '640x360', gop: 250 });
    // Enough for several segments: none of them may wait for the 8.3 s keyframe interval.
    await waitFor(
      'three LL-HLS segments',
      async () => {
        const res = await fetch(`${base}/ll/ll.m3u8`);
        if (res.status !== 200) return undefined;
        const pl = validate('ll', await res.text(), 'startup');
        return pl.segments.length >= 3 ? true : undefined;
      },
      40_000,
      500,
    );
  });

  after(() => killAll());

  it('segments of ≤ 2 s with ≤ 333 ms parts although keyframes are 8.3 s apart', async () => {
    const pl = await getPlaylist(`${base}/ll/ll.m3u8`, 'll');
    assert.equal(pl.partTarget, 0.333);
    assert.equal(pl.targetDuration, 2);
    for (const s of pl.segments) assert.ok(s.duration <= 2, `${s.uri}: ${s.duration} s`);
    const parts = [...pl.segments.flatMap((s) => s.parts), ...pl.openParts];
    assert.ok(parts.length >= 6);
    assert.ok(
      parts.some((p) => !p.independent),
      'most parts start mid-GOP',
    );
    assert.ok(pl.maps[0]?.startsWith('init-'), `map ${pl.maps[0]}`);
    assert.ok(pl.preloadHint, 'a preload hint');
  });

  it('ffprobe sees h264 640x360 + aac, and ffmpeg decodes the playlist with no error', async () => {
    const probe = await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', `${base}/ll/ll.m3u8`]);
    assert.equal(probe.code, 0, probe.stderr);
    const streams = (
      JSON.parse(probe.stdout) as { streams: { codec_name: string; width?: number; height?: number }[] }
    ).streams;
    const v = streams.find((s) => s.codec_name === 'h264');
    assert.ok(v, probe.stdout);
    assert.equal(v.width, 640);
    assert.equal(v.height, 360);
    assert.ok(
      streams.some((s) => s.codec_name === 'aac'),
      probe.stdout,
    );
    const dec = await run(
      'ffmpeg',
      ['-v', 'error', '-i', `${base}/ll/ll.m3u8`, '-t', '6', '-f', 'null', '-'],
      60_000,
    );
    assert.equal(dec.code, 0, dec.stderr);
    assert.equal(dec.stderr.trim(), '', 'no decoding errors');
  });

  it('blocking reload answers once the hinted part exists; a preload-hint request waits for its part', async () => {
    const pl = await getPlaylist(`${base}/ll/ll.m3u8`, 'll');
    const next = partOf(pl.preloadHint!);
    // the hinted part, asked for before it exists: held, then its bytes (a CMAF fragment)
    const hinted = fetch(`${base}/ll/${pl.preloadHint}`);
    const blocked = await fetch(`${base}/ll/ll.m3u8?_HLS_msn=${next.msn}&_HLS_part=${next.part}`);
    const text = await blocked.text();
    assert.equal(blocked.status, 200, text);
    const after = validate('ll', text, 'blocking reload');
    const listed = [...after.segments.flatMap((s) => s.parts), ...after.openParts].map((p) => partOf(p.uri));
    // The part itself, or (when its segment closed before it) the first part of the next segment.
    assert.ok(
      listed.some(
        (p) => (p.msn === next.msn && p.part === next.part) || (p.msn === next.msn + 1 && p.part === 0),
      ),
      `part ${next.msn}.${next.part} is in the playlist that answered the blocking reload`,
    );
    const part = await hinted;
    assert.equal(part.status, 200);
    const bytes = Buffer.from(await part.arrayBuffer());
    assert.equal(bytes.toString('latin1', 4, 8), 'moof');
    assert.equal(part.headers.get('content-type'), 'video/iso.segment');
    // far in the future: 400 at once (RFC 8216bis 6.2.5.2), with a code
    const far = await fetch(`${base}/ll/ll.m3u8?_HLS_msn=${next.msn + 10}`);
    assert.equal(far.status, 400);
    assert.equal(((await far.json()) as { error: { code: string } }).error.code, 'RC_BAD_REQUEST');
    const partOnly = await fetch(`${base}/ll/ll.m3u8?_HLS_part=1`);
    assert.equal(partOnly.status, 400);
    await partOnly.body?.cancel();
    // init segment and a whole segment
    const init = await fetch(`${base}/ll/${pl.maps[0]}`);
    assert.equal(init.status, 200);
    assert.equal(Buffer.from(await init.arrayBuffer()).toString('latin1', 4, 8), 'ftyp');
    const seg = await fetch(`${base}/ll/${pl.segments[0]!.uri}`);
    assert.equal(seg.status, 200);
    assert.equal(Buffer.from(await seg.arrayBuffer()).toString('latin1', 4, 8), 'moof');
  });

  it('hls.js (low-latency mode) in headless Chromium plays the LL playlist', {
    skip: noChromium,
  }, async () => {
    await playInChromium(`http://127.0.0.1:${rc.ports.http}/play/live/ll?mode=llhls`, 'browser');
  });

  it('a republish inserts EXT-X-DISCONTINUITY and the media sequence goes on rising', async () => {
    const before = await getPlaylist(`${base}/ll/ll.m3u8`, 'll');
    await pub.stop();
    pub = publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/ll`, { size: '640x360', gop: 250 });
    const text = await waitFor(
      'a discontinuity in the LL playlist',
      async () => {
        const res = await fetch(`${base}/ll/ll.m3u8`);
        if (res.status !== 200) return undefined;
        const t = await res.text();
        validate('ll', t, 'after republish');
        return /#EXT-X-DISCONTINUITY\n(#EXT-X-MAP:[^\n]*\n)?#EXT-X-PROGRAM-DATE-TIME:[^\n]*\n#EXT-X-PART:[^\n]*INDEPENDENT=YES/.test(
          t,
        ) && !t.includes('#EXT-X-ENDLIST')
          ? t
          : undefined;
      },
      40_000,
      500,
    );
    const after = validate('ll', text, 'republished');
    assert.ok(after.mediaSequence >= before.mediaSequence);
    const dec = await run(
      'ffmpeg',
      ['-v', 'error', '-i', `${base}/ll/ll.m3u8`, '-t', '3', '-f', 'null', '-'],
      60_000,
    );
    assert.equal(dec.code, 0, dec.stderr);
  });
});

describe('LL-HLS with signed play URLs', { timeout: 120_000 }, () => {
  let rc: RelaycastProcess;
  before(async () => {
    rc = await startRelaycast('all', [
      '--play-auth',
      'signed',
      '--play-secret',
      'll-secret',
      // a window of 8 segments (~16 s) is longer than 6 target durations: delta updates are offered
      '--hls-window',
      '8',
    ]);
    publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/sig`, { size: '320x240', gop: 60 });
  });
  after(() => killAll());

  it('the token reaches the init, every part and segment and the preload hint; none works without it', async () => {
    const q = signedQuery('ll-secret', 'live', 'sig', 600);
    const base = `http://127.0.0.1:${rc.ports.http}/live`;
    // by default (--hls-variant llhls) /<app>/<name>.m3u8 is LL-HLS, with URIs under <name>/
    const text = await waitFor(
      'a signed LL playlist with a whole segment',
      async () => {
        const res = await fetch(`${base}/sig.m3u8?${q}`);
        if (res.status !== 200) return undefined;
        const t = await res.text();
        return validate('signed', t, 'signed (waiting)').segments.length > 0 ? t : undefined;
      },
      40_000,
      500,
    );
    const pl = validate('signed', text, 'signed');
    const uris = [
      pl.maps[0]!,
      pl.preloadHint!,
      ...pl.segments.map((s) => s.uri),
      ...pl.segments.flatMap((s) => s.parts.map((p) => p.uri)),
    ];
    assert.ok(uris.length > 3);
    for (const uri of uris) {
      assert.ok(uri.startsWith('sig/'), uri);
      assert.ok(uri.endsWith(`?${q}`), `${uri} carries the token`);
    }
    const init = await fetch(`${base}/${pl.maps[0]}`);
    assert.equal(init.status, 200);
    await init.body?.cancel();
    const bare = await fetch(`${base}/${pl.maps[0]!.split('?')[0]}`);
    assert.equal(bare.status, 403);
    await bare.body?.cancel();
    const unsignedPlaylist = await fetch(`${base}/sig/ll.m3u8`);
    assert.equal(unsignedPlaylist.status, 403);
    await unsignedPlaylist.body?.cancel();
    // classic TS stays at .ts.m3u8
    const ts = await fetch(`${base}/sig.ts.m3u8?${q}`);
    assert.equal(ts.status, 200);
    assert.match(await ts.text(), /sig-\d+\.ts\?/);
  });

  it('a long window offers delta updates: _HLS_skip=YES replaces the old segments with EXT-X-SKIP, tokens kept', async () => {
    const q = signedQuery('ll-secret', 'live', 'sig', 600);
    const base = `http://127.0.0.1:${rc.ports.http}/live`;
    const full = await getPlaylist(`${base}/sig/ll.m3u8?${q}`, 'signed');
    assert.ok(full.canSkipUntil !== undefined && full.canSkipUntil >= 6 * full.targetDuration);
    const delta = await waitFor(
      'a delta update that skips a segment',
      async () => {
        const res = await fetch(`${base}/sig/ll.m3u8?${q}&_HLS_skip=YES`);
        const t = res.status === 200 ? await res.text() : '';
        return t.includes('#EXT-X-SKIP:') ? t : undefined;
      },
      60_000,
      1000,
    );
    const pl = validate('signed', delta, 'signed delta');
    assert.ok(pl.skippedSegments >= 1);
    assert.equal(pl.version, 9);
    for (const s of pl.segments) assert.ok(s.uri.endsWith(`?${q}`), `${s.uri} carries the token`);
    assert.match(delta, /#EXT-X-SKIP:SKIPPED-SEGMENTS=\d+\n#EXT-X-MAP:URI="init-\d+\.mp4\?/);
    // hls.js asks for delta updates of such a playlist and keeps playing
    await playInChromium(`http://127.0.0.1:${rc.ports.http}/play/live/sig?mode=llhls&${q}`, 'signed');
  });
});

describe('LL-HLS through an edge (redis + origin + edge)', { timeout: 240_000 }, () => {
  let redis: RedisServer;
  let origin: RelaycastProcess;
  let edge: RelaycastProcess;
  let base: string;
  before(async () => {
    redis = await startRedis();
    origin = await startClusterNode('origin', redis.url, 'origin-ll', ['--hls-part-target', '0.333']);
    edge = await startClusterNode('edge', redis.url, 'edge-ll');
    publish(`rtmp://127.0.0.1:${origin.ports.rtmp}/live/edge`, { size: '640x360', gop: 250 });
    base = `http://127.0.0.1:${edge.ports.http}/live/edge`;
    await waitFor(
      'LL-HLS through the edge',
      async () => {
        const res = await fetch(`${base}/ll.m3u8`);
        if (res.status !== 200) return undefined;
        return validate('edge', await res.text(), 'edge startup').segments.length >= 2 ? true : undefined;
      },
      40_000,
      500,
    );
  });
  after(async () => {
    await killAll();
    await redis?.stop();
  });

  /** The origin's count of LL-HLS playlist requests (any result), from its /metrics. */
  async function originPlaylistRequests(): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${origin.ports.admin}/metrics`)).text();
    let n = 0;
    for (const m of text.matchAll(/^relaycast_hls_requests_total\{[^}]*kind="ll_playlist"[^}]*\} (\d+)/gm))
      n += Number(m[1]);
    return n;
  }

  it('ffmpeg decodes the LL playlist through the edge', async () => {
    const dec = await run(
      'ffmpeg',
      ['-v', 'error', '-i', `${base}/ll.m3u8`, '-t', '4', '-f', 'null', '-'],
      60_000,
    );
    assert.equal(dec.code, 0, dec.stderr);
    assert.equal(dec.stderr.trim(), '');
  });

  it('50 viewers blocking on the next part cost the origin one or two requests, and all get it', async () => {
    const pl = validate('edge', await (await fetch(`${base}/ll.m3u8`)).text(), 'edge before blocking');
    const next = partOf(pl.preloadHint!);
    const before = await originPlaylistRequests();
    const answers = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const res = await fetch(`${base}/ll.m3u8?_HLS_msn=${next.msn}&_HLS_part=${next.part}`);
        return { status: res.status, text: await res.text() };
      }),
    );
    const parts = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const res = await fetch(`${base}/${pl.preloadHint}`);
        return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
      }),
    );
    const after = await originPlaylistRequests();
    for (const a of answers) {
      assert.equal(a.status, 200, a.text);
      const p = validate('edge', a.text, 'edge blocking answer');
      const listed = [...p.segments.flatMap((s) => s.parts), ...p.openParts].map((x) => partOf(x.uri));
      assert.ok(
        listed.some(
          (x) => (x.msn === next.msn && x.part === next.part) || (x.msn === next.msn + 1 && x.part === 0),
        ),
      );
    }
    for (const p of parts) {
      assert.equal(p.status, 200);
      assert.deepEqual(p.bytes, parts[0]!.bytes);
    }
    assert.ok(
      after - before <= 4,
      `the origin saw ${after - before} LL playlist requests for 50 blocked viewers`,
    );
  });

  it('hls.js plays LL-HLS through the edge', {
    skip: noChromium,
  }, async () => {
    await playInChromium(`http://127.0.0.1:${edge.ports.http}/play/live/edge?mode=llhls`, 'edge-browser');
  });
});

describe('LL-HLS through --workers threads', { timeout: 180_000 }, () => {
  let rc: RelaycastProcess;
  before(async () => {
    rc = await startRelaycast('all', ['--workers', '2']);
    publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/wk`, { size: '320x240', gop: 250 });
  });
  after(() => killAll());

  it('every worker serves the LL playlist, blocking reloads and parts; ffmpeg decodes it', async () => {
    const base = `http://127.0.0.1:${rc.ports.http}/live/wk`;
    await waitFor(
      'LL-HLS through the workers',
      async () => {
        const res = await fetch(`${base}/ll.m3u8`, { headers: { connection: 'close' } });
        if (res.status !== 200) return undefined;
        return validate('workers', await res.text(), 'workers startup').segments.length >= 2
          ? true
          : undefined;
      },
      40_000,
      500,
    );
    // New connections spread over the workers: each answers a blocking reload and the hinted part.
    for (let i = 0; i < 6; i++) {
      const pl = validate(
        'workers',
        await (await fetch(`${base}/ll.m3u8`, { headers: { connection: 'close' } })).text(),
        `workers ${i}`,
      );
      const next = partOf(pl.preloadHint!);
      const [blocked, part] = await Promise.all([
        fetch(`${base}/ll.m3u8?_HLS_msn=${next.msn}&_HLS_part=${next.part}`, {
          headers: { connection: 'close' },
        }),
        fetch(`${base}/${pl.preloadHint}`, { headers: { connection: 'close' } }),
      ]);
      assert.equal(blocked.status, 200);
      validate('workers', await blocked.text(), `workers blocking ${i}`);
      assert.equal(part.status, 200);
      assert.equal(Buffer.from(await part.arrayBuffer()).toString('latin1', 4, 8), 'moof');
    }
    const dec = await run(
      'ffmpeg',
      ['-v', 'error', '-i', `${base}/ll.m3u8`, '-t', '3', '-f', 'null', '-'],
      60_000,
    );
    assert.equal(dec.code, 0, dec.stderr);
  });
});

describe('LL-HLS through an edge when the stream moves to another origin', { timeout: 240_000 }, () => {
  let redis: RedisServer;
  let originA: RelaycastProcess;
  let originB: RelaycastProcess;
  let edge: RelaycastProcess;
  before(async () => {
    redis = await startRedis();
    originA = await startClusterNode('origin', redis.url, 'origin-a');
    originB = await startClusterNode('origin', redis.url, 'origin-b');
    edge = await startClusterNode('edge', redis.url, 'edge-move');
  });
  after(async () => {
    await killAll();
    await redis?.stop();
  });

  it('origin killed, broadcaster republishes to another: EXT-X-DISCONTINUITY, sequences keep rising, still decodes', async () => {
    const url = `http://127.0.0.1:${edge.ports.http}/live/moving/ll.m3u8`;
    const pubA = publish(`rtmp://127.0.0.1:${originA.ports.rtmp}/live/moving`, { size: '320x240', gop: 60 });
    const before = await waitFor(
      'LL-HLS from origin A through the edge',
      async () => {
        const res = await fetch(url);
        if (res.status !== 200) return undefined;
        const pl = validate('moving', await res.text(), 'before the move');
        return pl.segments.length >= 2 ? pl : undefined;
      },
      40_000,
      500,
    );
    await originA.stop('SIGKILL');
    await pubA.stop();
    publish(`rtmp://127.0.0.1:${originB.ports.rtmp}/live/moving`, { size: '320x240', gop: 60 });
    const moved = await waitFor(
      'the edge to follow the stream to origin B',
      async () => {
        const res = await fetch(url);
        if (res.status !== 200) {
          await res.body?.cancel();
          return undefined;
        }
        const text = await res.text();
        const pl = validate('moving', text, 'during the move');
        // origin B's init segment is named from its own (higher) sequence numbers
        return pl.maps.some((m) => m !== before.maps[0]) && pl.segments.length >= 1
          ? { pl, text }
          : undefined;
      },
      60_000,
      300,
    );
    assert.match(moved.text, /#EXT-X-DISCONTINUITY\n/);
    assert.ok(moved.pl.mediaSequence > before.mediaSequence);
    assert.ok(moved.pl.discontinuitySequence >= before.discontinuitySequence);
    const dec = await run('ffmpeg', ['-v', 'error', '-i', url, '-t', '3', '-f', 'null', '-'], 60_000);
    assert.equal(dec.code, 0, dec.stderr);
  });
});
