import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { avcSequenceHeader, avStream } from './fixtures.ts';
import {
  advancePartLimit,
  type BlockingTimers,
  BlockingWaiters,
  decideBlockingReload,
  decidePartRequest,
  parseBlockingQuery,
} from './ll-blocking.ts';
import { deltaUpdate, renderLlPlaylist, skipBoundarySeconds } from './ll-playlist.ts';
import { LlHlsSegmenter, type LlPart, type LlPosition, type LlSegment } from './ll-segmenter.ts';
import { LlPlaylistValidator, validateLlPlaylist } from './ll-validate.ts';

const URIS = {
  init: (id: number) => `init-${id}.mp4`,
  segment: (seq: number) => `${seq}.m4s`,
  part: (seq: number, i: number) => `${seq}.${i}.m4s`,
};

function viewOf(s: LlHlsSegmenter) {
  return {
    segments: s.segments,
    open: s.openSegment,
    mediaSequence: s.mediaSequence,
    discontinuitySequence: s.discontinuitySequence,
    ended: s.ended,
    partTargetMs: s.options.partTargetMs,
    targetDurationSeconds: s.targetDurationSeconds,
    nextPart: s.nextPart,
  };
}

function render(s: LlHlsSegmenter): string {
  return renderLlPlaylist(viewOf(s), URIS);
}

/** First sample's flags in a fragment's (first) trun: 0x02000000 for a sync sample. */
function firstSampleFlags(fragment: Buffer): number {
  const at = fragment.indexOf('trun');
  assert.ok(at > 0);
  return fragment.readUInt32BE(at + 4 + 4 + 4 + 4 + 8); // version/flags, count, offset, duration, size
}

describe('LL-HLS segmenter', () => {
  it('an 8.3 s GOP still gives ~2 s segments of ≤ 333 ms parts; keyframe parts are INDEPENDENT', () => {
    const s = new LlHlsSegmenter(
      { partTargetMs: 333, segmentTargetMs: 2000, windowSegments: 20 },
      { nextSequence: 100 },
    );
    const parts: LlPart[] = [];
    s.onPart = (p) => parts.push(p);
    let t = 0;
    for (const tag of avStream({ seconds: 20, gop: 250 }))
      s.push(tag, 1_700_000_000_000 + tag.timestamp + t++ * 0);
    assert.ok(s.segments.length >= 8, `segments: ${s.segments.length}`);
    for (const seg of s.segments) {
      assert.ok(seg.durationMs <= 2000, `segment ${seg.sequence} lasts ${seg.durationMs}`);
      assert.ok(seg.durationMs >= 1600, `segment ${seg.sequence} lasts ${seg.durationMs}`);
      assert.deepEqual(s.segmentData(seg.sequence), Buffer.concat(seg.parts.map((p) => p.data)));
    }
    assert.equal(s.segments[0]!.sequence, 100);
    for (const p of parts)
      assert.ok(p.durationMs <= 333, `part ${p.sequence}.${p.index} lasts ${p.durationMs}`);
    // keyframes at 0, 8.333 and 16.667 s: exactly those parts are independent
    const independent = parts.filter((p) => p.independent);
    assert.equal(independent.length, 3);
    for (const p of parts) assert.equal(firstSampleFlags(p.data) === 0x02000000, p.independent);
    // segments do not wait for keyframes
    assert.ok(s.segments.filter((x) => !x.independent).length >= 6);
    // a part of every closed segment is retrievable
    assert.equal(s.getPart(101, 2)?.data.length, s.segments[1]!.parts[2]!.data.length);
    // audio is in the parts too: two trafs
    assert.ok(parts.every((p) => p.data.indexOf('traf') !== p.data.lastIndexOf('traf')));
  });

  it('playlist: valid LL-HLS, parts only near the live edge, preload hint for the next part', () => {
    const s = new LlHlsSegmenter({ windowSegments: 6 }, { nextSequence: 0 });
    for (const tag of avStream({ seconds: 15, gop: 60 })) s.push(tag, 1_700_000_000_000 + tag.timestamp);
    const text = render(s);
    const { problems, playlist } = validateLlPlaylist(text);
    assert.deepEqual(problems, []);
    assert.equal(playlist.segments.length, 6);
    assert.equal(playlist.segments[0]!.parts.length, 0, 'old segments list no parts');
    assert.ok(playlist.segments[5]!.parts.length > 0);
    const next = s.nextPart;
    assert.equal(playlist.preloadHint, `${next.sequence}.${next.index}.m4s`);
    assert.deepEqual(playlist.maps, ['init-2.mp4']);
    assert.ok(s.init(2)!.subarray(4, 8).toString() === 'ftyp');
  });

  it('republish: EXT-X-DISCONTINUITY before the next segment, timeline continues, same init', () => {
    const s = new LlHlsSegmenter({}, { nextSequence: 0 });
    for (const tag of avStream({ seconds: 5, gop: 30 })) s.push(tag, 1e12 + tag.timestamp);
    s.markDiscontinuity(1e12 + 5000);
    for (const tag of avStream({ seconds: 5, gop: 30 })) s.push(tag, 1e12 + 6000 + tag.timestamp);
    s.end(1e12 + 12000);
    const text = render(s);
    assert.deepEqual(validateLlPlaylist(text).problems, []);
    assert.equal(text.split('#EXT-X-DISCONTINUITY\n').length, 2);
    assert.ok(text.endsWith('#EXT-X-ENDLIST\n'));
    assert.ok(!text.includes('PRELOAD-HINT'));
    const disc = s.segments.find((x) => x.discontinuity)!;
    assert.ok(disc.independent);
    // tfdt of the first part after the republish = where the timeline was
    const tfdt = (b: Buffer) => Number(b.readBigUInt64BE(b.indexOf('tfdt') + 8));
    const before = s.segments[s.segments.indexOf(disc) - 1]!;
    assert.ok(tfdt(disc.parts[0]!.data) >= tfdt(before.parts[0]!.data) + before.durationMs * 90 - 90 * 34);
  });

  it('new codec configuration: a new init segment (EXT-X-MAP) after a discontinuity', () => {
    const s = new LlHlsSegmenter({}, { nextSequence: 0 });
    for (const tag of avStream({ seconds: 4, gop: 30 })) s.push(tag, 1e12 + tag.timestamp);
    const sps2 = Buffer.from([0x67, 0x42, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xa0, 0x3d, 0xa1, 0x00, 0x00]);
    s.push(avcSequenceHeader(4000, sps2), 1e12 + 4000);
    for (const tag of avStream({ seconds: 4, gop: 30, start: 4000 }).slice(2))
      s.push(tag, 1e12 + tag.timestamp);
    const text = render(s);
    assert.deepEqual(validateLlPlaylist(text).problems, []);
    assert.match(text, /#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-3.mp4"\n#EXT-X-PROGRAM-DATE-TIME/);
    assert.ok(s.init(3));
  });
});

describe('LL-HLS delta updates (CAN-SKIP-UNTIL, _HLS_skip)', () => {
  it('offers them only when the window is longer than six target durations', () => {
    assert.equal(skipBoundarySeconds(2, 6 * 2000), undefined);
    assert.equal(skipBoundarySeconds(2, 10 * 2000), 12);
    const s = new LlHlsSegmenter({ windowSegments: 6 }, { nextSequence: 0 });
    for (const tag of avStream({ seconds: 15, gop: 60 })) s.push(tag, 1_700_000_000_000 + tag.timestamp);
    const full = render(s);
    assert.doesNotMatch(full, /CAN-SKIP-UNTIL/);
    assert.equal(deltaUpdate(full), full, 'nothing to skip without CAN-SKIP-UNTIL');
  });

  it('skips the segments older than the boundary; the first kept one gets the map, key and date in effect', () => {
    const s = new LlHlsSegmenter({ windowSegments: 12 }, { nextSequence: 100 });
    for (const tag of avStream({ seconds: 30, gop: 60 })) s.push(tag, 1_700_000_000_000 + tag.timestamp);
    const iv = (n: number) => Buffer.alloc(16, n % 256);
    const uris = {
      ...URIS,
      encryption: (seq: number) => ({ keyUri: `keys/l${seq - (seq % 4)}`, iv: iv(seq) }),
    };
    const full = renderLlPlaylist({ ...viewOf(s), skipUntilSeconds: 12 }, uris);
    assert.match(full, /CAN-SKIP-UNTIL=12\.0,/);
    const delta = deltaUpdate(full);
    const { problems, playlist } = validateLlPlaylist(delta);
    assert.deepEqual(problems, []);
    const whole = validateLlPlaylist(full).playlist;
    assert.ok(playlist.skippedSegments >= 1, delta);
    assert.equal(playlist.version, 9);
    assert.equal(playlist.mediaSequence, whole.mediaSequence);
    assert.deepEqual(
      playlist.segments.map((x) => x.uri),
      whole.segments.slice(playlist.skippedSegments).map((x) => x.uri),
    );
    assert.deepEqual(playlist.openParts, whole.openParts);
    // what is kept still spans the boundary (6.2.5.1): at least 12 s
    const kept =
      playlist.segments.reduce((n, x) => n + x.duration, 0) +
      playlist.openParts.reduce((n, p) => n + p.duration, 0);
    assert.ok(kept >= 12, `kept ${kept} s`);
    const firstKept = playlist.segments[0]!.uri.replace('.m4s', '');
    const head = delta.split('\n#EXTINF:')[0]!.split('#EXT-X-SKIP:')[1]!;
    assert.ok(head.includes(/#EXT-X-MAP:URI="[^"]+"/.exec(full)![0]), head);
    assert.ok(head.includes(`IV=0x${iv(Number(firstKept)).toString('hex')}`), head);
    // the date carried is the full playlist's first date plus the skipped segments' durations
    const first = Date.parse(/#EXT-X-PROGRAM-DATE-TIME:(\S+)/.exec(full)![1]!);
    const skippedMs = whole.segments
      .slice(0, playlist.skippedSegments)
      .reduce((n, x) => n + x.duration * 1000, 0);
    assert.equal(
      Date.parse(/#EXT-X-PROGRAM-DATE-TIME:(\S+)/.exec(delta)![1]!),
      Math.round(first + skippedMs),
    );
  });
});

describe('LL-HLS playlist (hand-checked vector)', () => {
  const part = (sequence: number, index: number, durationMs: number, independent = false): LlPart => ({
    sequence,
    index,
    durationMs,
    independent,
    data: Buffer.alloc(0),
  });
  const seg = (sequence: number, parts: LlPart[], extra: Partial<LlSegment> = {}): LlSegment => ({
    sequence,
    durationMs: parts.reduce((n, p) => n + p.durationMs, 0),
    parts,
    data: Buffer.alloc(0),
    discontinuity: false,
    programDateTime: Date.UTC(2026, 0, 1, 0, 0, sequence * 2),
    initId: 0,
    independent: parts[0]?.independent ?? false,
    ...extra,
  });

  it('renders exactly', () => {
    const text = renderLlPlaylist(
      {
        segments: [
          seg(7, [part(7, 0, 1000, true), part(7, 1, 1000)]),
          seg(8, [part(8, 0, 333), part(8, 1, 333), part(8, 2, 334)]),
          seg(9, [part(9, 0, 333, true), part(9, 1, 333)], { discontinuity: true, initId: 1 }),
        ],
        open: seg(10, [part(10, 0, 300)], { initId: 1 }),
        mediaSequence: 7,
        discontinuitySequence: 2,
        ended: false,
        partTargetMs: 1000,
        targetDurationSeconds: 2,
        nextPart: { sequence: 10, index: 1 },
      },
      { ...URIS, part: (s, i) => `${s}.${i}.m4s?sig=x` },
    );
    assert.equal(
      text,
      [
        '#EXTM3U',
        '#EXT-X-VERSION:6',
        '#EXT-X-TARGETDURATION:2',
        '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3.000',
        '#EXT-X-PART-INF:PART-TARGET=1.000',
        '#EXT-X-MEDIA-SEQUENCE:7',
        '#EXT-X-DISCONTINUITY-SEQUENCE:2',
        '#EXT-X-MAP:URI="init-0.mp4"',
        '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:14.000Z',
        '#EXT-X-PART:DURATION=1.000,URI="7.0.m4s?sig=x",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=1.000,URI="7.1.m4s?sig=x"',
        '#EXTINF:2.000,',
        '7.m4s',
        '#EXT-X-PART:DURATION=0.333,URI="8.0.m4s?sig=x"',
        '#EXT-X-PART:DURATION=0.333,URI="8.1.m4s?sig=x"',
        '#EXT-X-PART:DURATION=0.334,URI="8.2.m4s?sig=x"',
        '#EXTINF:1.000,',
        '8.m4s',
        '#EXT-X-DISCONTINUITY',
        '#EXT-X-MAP:URI="init-1.mp4"',
        '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:18.000Z',
        '#EXT-X-PART:DURATION=0.333,URI="9.0.m4s?sig=x",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.333,URI="9.1.m4s?sig=x"',
        '#EXTINF:0.666,',
        '9.m4s',
        '#EXT-X-PART:DURATION=0.300,URI="10.0.m4s?sig=x"',
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="10.1.m4s?sig=x"',
        '',
      ].join('\n'),
    );
    assert.deepEqual(validateLlPlaylist(text).problems, []);
  });
  it("AES-128: a key per segment before its first part, none in effect at EXT-X-MAP, the hint's segment key before the hint", () => {
    const iv = (n: number) => Buffer.alloc(16, n);
    const keys: Record<number, { keyUri: string; iv: Buffer } | undefined> = {
      7: { keyUri: 'keys/l7?sig=x', iv: iv(1) },
      8: { keyUri: 'keys/l7?sig=x', iv: iv(2) },
      9: undefined, // a republish without encryption
      10: { keyUri: 'keys/l10?sig=x', iv: iv(3) },
      11: { keyUri: 'keys/l10?sig=x', iv: iv(4) },
    };
    const text = renderLlPlaylist(
      {
        segments: [
          seg(7, [part(7, 0, 1000, true)]),
          seg(8, [part(8, 0, 1000)]),
          seg(9, [part(9, 0, 1000, true)], { discontinuity: true }),
          seg(10, [part(10, 0, 1000, true)], { discontinuity: true, initId: 1 }),
        ],
        open: undefined,
        mediaSequence: 7,
        discontinuitySequence: 0,
        ended: false,
        partTargetMs: 1000,
        targetDurationSeconds: 1,
        nextPart: { sequence: 11, index: 0 },
      },
      { ...URIS, encryption: (s) => keys[s] },
    );
    const key = (uri: string, n: number) =>
      `#EXT-X-KEY:METHOD=AES-128,URI="${uri}",IV=0x${iv(n).toString('hex')}`;
    assert.deepEqual(text.split('\n').slice(7), [
      '#EXT-X-MAP:URI="init-0.mp4"',
      key('keys/l7?sig=x', 1),
      '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:14.000Z',
      '#EXT-X-PART:DURATION=1.000,URI="7.0.m4s",INDEPENDENT=YES',
      '#EXTINF:1.000,',
      '7.m4s',
      key('keys/l7?sig=x', 2),
      '#EXT-X-PART:DURATION=1.000,URI="8.0.m4s"',
      '#EXTINF:1.000,',
      '8.m4s',
      '#EXT-X-DISCONTINUITY',
      '#EXT-X-KEY:METHOD=NONE',
      '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:18.000Z',
      '#EXT-X-PART:DURATION=1.000,URI="9.0.m4s",INDEPENDENT=YES',
      '#EXTINF:1.000,',
      '9.m4s',
      '#EXT-X-DISCONTINUITY',
      '#EXT-X-MAP:URI="init-1.mp4"',
      key('keys/l10?sig=x', 3),
      '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:20.000Z',
      '#EXT-X-PART:DURATION=1.000,URI="10.0.m4s",INDEPENDENT=YES',
      '#EXTINF:1.000,',
      '10.m4s',
      key('keys/l10?sig=x', 4),
      '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="11.0.m4s"',
      '',
    ]);
    assert.deepEqual(validateLlPlaylist(text).problems, []);
    // A key in effect where an init segment is declared would apply to it: NONE comes first.
    const remap = renderLlPlaylist(
      {
        segments: [seg(7, [part(7, 0, 1000, true)]), seg(8, [part(8, 0, 1000, true)], { initId: 1 })],
        open: undefined,
        mediaSequence: 7,
        discontinuitySequence: 0,
        ended: true,
        partTargetMs: 1000,
        targetDurationSeconds: 1,
        nextPart: { sequence: 9, index: 0 },
      },
      { ...URIS, encryption: (s) => keys[s] },
    );
    assert.match(
      remap,
      /7\.m4s\n#EXT-X-KEY:METHOD=NONE\n#EXT-X-MAP:URI="init-1\.mp4"\n#EXT-X-KEY:METHOD=AES-128/,
    );
  });
});

describe('LL-HLS playlist validator', () => {
  const good = [
    '#EXTM3U',
    '#EXT-X-TARGETDURATION:2',
    '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0',
    '#EXT-X-PART-INF:PART-TARGET=0.333',
    '#EXT-X-MEDIA-SEQUENCE:5',
    '#EXT-X-MAP:URI="i.mp4"',
    '#EXT-X-PART:DURATION=0.333,URI="5.0.m4s"',
    '#EXT-X-PART:DURATION=0.300,URI="5.1.m4s"',
    '#EXTINF:0.633,',
    '5.m4s',
    '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="6.0.m4s"',
  ];
  it('accepts a good playlist', () => assert.deepEqual(validateLlPlaylist(good.join('\n')).problems, []));
  const broken: [string, (l: string[]) => string[], RegExp][] = [
    [
      'a part over PART-TARGET',
      (l) => l.map((x) => x.replace('DURATION=0.300', 'DURATION=0.400')),
      /exceeds PART-TARGET/,
    ],
    [
      'PART-HOLD-BACK under 3×',
      (l) => l.map((x) => x.replace('PART-HOLD-BACK=1.0', 'PART-HOLD-BACK=0.7')),
      /less than 3/,
    ],
    ['no blocking reload', (l) => l.map((x) => x.replace('CAN-BLOCK-RELOAD=YES,', '')), /CAN-BLOCK-RELOAD/],
    [
      'a discontinuity between parts',
      (l) => [...l.slice(0, 7), '#EXT-X-DISCONTINUITY', ...l.slice(7)],
      /between the parts/,
    ],
    [
      'EXTINF over the target',
      (l) => l.map((x) => x.replace('#EXTINF:0.633', '#EXTINF:2.6')),
      /rounds above|add up/,
    ],
    ['parts not adding up', (l) => l.map((x) => x.replace('#EXTINF:0.633', '#EXTINF:0.9')), /add up/],
    ['no map', (l) => l.filter((x) => !x.startsWith('#EXT-X-MAP')), /before any EXT-X-MAP/],
    ['two hints', (l) => [...l, '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="6.1.m4s"'], /2 preload hints/],
  ];
  for (const [what, change, problem] of broken)
    it(`rejects ${what}`, () => {
      const { problems } = validateLlPlaylist(change(good).join('\n'));
      assert.ok(
        problems.some((p) => problem.test(p)),
        problems.join('; '),
      );
    });
  it('media sequence going back across playlists', () => {
    const v = new LlPlaylistValidator();
    v.check(good.join('\n'));
    v.check(good.join('\n').replace('SEQUENCE:5', 'SEQUENCE:4'));
    assert.match(v.problems.join(), /MEDIA-SEQUENCE went back/);
  });
});

describe('LL-HLS blocking reload state machine', () => {
  const pos = (openSequence: number, openParts: number, parts: Record<number, number> = {}): LlPosition => ({
    openSequence,
    openParts,
    firstSequence: 5,
    ended: false,
    partsOf: (s) => parts[s],
  });

  it('parses the query: msn alone, msn+part, part without msn (400), garbage (400)', () => {
    assert.equal(parseBlockingQuery(new URLSearchParams('')), undefined);
    assert.deepEqual(parseBlockingQuery(new URLSearchParams('_HLS_msn=12')), { msn: 12, part: undefined });
    assert.deepEqual(parseBlockingQuery(new URLSearchParams('_HLS_msn=12&_HLS_part=3')), {
      msn: 12,
      part: 3,
    });
    assert.match(String(parseBlockingQuery(new URLSearchParams('_HLS_part=3'))), /needs _HLS_msn/);
    assert.match(String(parseBlockingQuery(new URLSearchParams('_HLS_msn=-1'))), /not a non-negative/);
    assert.match(
      String(parseBlockingQuery(new URLSearchParams('_HLS_msn=1&_HLS_part=x'))),
      /not a non-negative/,
    );
  });

  it('decides ready / wait / 400', () => {
    const p = pos(10, 2, { 9: 6, 8: 6 });
    const d = (msn: number, part?: number) => decideBlockingReload(p, { msn, part }, 333).kind;
    assert.equal(d(9), 'ready', 'a complete segment');
    assert.equal(d(10), 'wait', 'the open segment is not complete');
    assert.equal(d(10, 1), 'ready', 'an existing part');
    assert.equal(d(10, 2), 'wait', 'the next part');
    assert.equal(d(9, 5), 'ready');
    assert.equal(d(9, 6), 'ready', 'past the last part of 9 = 10.0, which exists');
    assert.equal(d(11, 0), 'wait');
    assert.equal(d(12), 'wait', 'two past the last segment');
    assert.equal(d(13), 'bad-request', 'more than two past');
    assert.equal(advancePartLimit(333), 9);
    assert.equal(d(10, 10), 'wait', 'last part (1) + 9');
    assert.equal(d(10, 11), 'bad-request', 'beyond the advance part limit');
    assert.equal(decideBlockingReload({ ...p, ended: true }, { msn: 99, part: 0 }, 333).kind, 'ready');
    assert.equal(decideBlockingReload(pos(10, 0, { 9: 6 }), { msn: 9, part: 6 }, 333).kind, 'wait');
  });

  it('part requests: the hinted part waits, far ones are gone', () => {
    const p = pos(10, 2);
    assert.equal(decidePartRequest(p, true, 9, 0, 333), 'ready');
    assert.equal(decidePartRequest(p, false, 10, 2, 333), 'wait');
    assert.equal(decidePartRequest(p, false, 11, 0, 333), 'wait');
    assert.equal(decidePartRequest(p, false, 11, 1, 333), 'gone');
    assert.equal(decidePartRequest(p, false, 10, 30, 333), 'gone');
    assert.equal(decidePartRequest(p, false, 3, 0, 333), 'gone');
  });

  it('waiters settle when the part appears, and time out (503) on a fake clock', async () => {
    let now = 0;
    const pending: { at: number; fn: () => void; done: boolean }[] = [];
    const timers: BlockingTimers = {
      setTimeout: (fn, ms) => {
        const t = { at: now + ms, fn, done: false };
        pending.push(t);
        return t;
      },
      clearTimeout: (h) => {
        (h as { done: boolean }).done = true;
      },
    };
    const advance = (ms: number) => {
      now += ms;
      for (const t of pending)
        if (!t.done && t.at <= now) {
          t.done = true;
          t.fn();
        }
    };
    const w = new BlockingWaiters(timers);
    const state = pos(10, 2);
    const ready = () => decideBlockingReload(state, { msn: 10, part: 2 }, 333).kind === 'ready';
    const first = w.wait(ready, 6000);
    const second = w.wait(
      () => decideBlockingReload(state, { msn: 11, part: 0 }, 333).kind === 'ready',
      6000,
    );
    assert.equal(w.size, 2);
    advance(300);
    state.openParts = 3; // part 10.2 appears
    w.notify();
    assert.equal(await first, true);
    assert.equal(w.size, 1);
    advance(5699);
    assert.equal(w.size, 1, 'still waiting just before 3 target durations');
    advance(1);
    assert.equal(await second, false, 'timed out: the server answers 503');
    assert.equal(w.size, 0);
    assert.equal(await w.wait(() => true, 10), true, 'a condition already met answers at once');
  });
});
