import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideBlockingReload } from '../media/hls/ll-blocking.ts';
import { validateLlPlaylist } from '../media/hls/ll-validate.ts';
import { positionOf, rewriteLlUris, withContinuity } from './llhls-proxy.ts';

const ORIGIN_PLAYLIST = [
  '#EXTM3U',
  '#EXT-X-VERSION:6',
  '#EXT-X-TARGETDURATION:2',
  '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.999',
  '#EXT-X-PART-INF:PART-TARGET=0.333',
  '#EXT-X-MEDIA-SEQUENCE:40',
  '#EXT-X-DISCONTINUITY-SEQUENCE:0',
  '#EXT-X-MAP:URI="init-38.mp4"',
  '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z',
  '#EXTINF:1.800,',
  '40.m4s',
  '#EXT-X-PART:DURATION=0.300,URI="41.0.m4s",INDEPENDENT=YES',
  '#EXT-X-PART:DURATION=0.300,URI="41.1.m4s"',
  '#EXTINF:0.600,',
  '41.m4s',
  '#EXT-X-PART:DURATION=0.300,URI="42.0.m4s"',
  '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="42.1.m4s"',
  '',
].join('\n');

describe('LL-HLS edge proxy helpers', () => {
  it('positionOf: the blocking-reload position an origin playlist describes', () => {
    const pos = positionOf(validateLlPlaylist(ORIGIN_PLAYLIST).playlist);
    assert.equal(pos.openSequence, 42);
    assert.equal(pos.openParts, 1);
    assert.equal(pos.firstSequence, 40);
    assert.equal(pos.partsOf(41), 2);
    assert.equal(pos.partsOf(40), undefined, 'no parts listed: unknown');
    assert.equal(pos.ended, false);
    const d = (msn: number, part?: number) => decideBlockingReload(pos, { msn, part }, 333).kind;
    assert.equal(d(42, 0), 'ready');
    assert.equal(d(42, 1), 'wait');
    assert.equal(d(41, 2), 'ready', 'past the last part of 41: 42.0, which is there');
    assert.equal(d(45), 'bad-request');
  });

  it('rewriteLlUris: the path prefix and the viewer token on every URI, attributes included', () => {
    const out = rewriteLlUris(ORIGIN_PLAYLIST, 'cam/', '?expires=1&sig=ab');
    assert.match(out, /#EXT-X-MAP:URI="cam\/init-38\.mp4\?expires=1&sig=ab"/);
    assert.match(out, /\ncam\/40\.m4s\?expires=1&sig=ab\n/);
    assert.match(out, /#EXT-X-PART:DURATION=0\.300,URI="cam\/41\.1\.m4s\?expires=1&sig=ab"\n/);
    assert.match(out, /#EXT-X-PART:DURATION=0\.300,URI="cam\/41\.0\.m4s\?expires=1&sig=ab",INDEPENDENT=YES/);
    assert.match(out, /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="cam\/42\.1\.m4s\?expires=1&sig=ab"/);
    assert.deepEqual(validateLlPlaylist(out).problems, []);
    assert.equal(rewriteLlUris(ORIGIN_PLAYLIST, '', ''), ORIGIN_PLAYLIST);
  });
});

describe('LL-HLS edge continuity across origins', () => {
  const playlist = (first: number, disc: number, segments: number, openParts: number) =>
    [
      '#EXTM3U',
      '#EXT-X-TARGETDURATION:2',
      '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.999',
      '#EXT-X-PART-INF:PART-TARGET=0.333',
      `#EXT-X-MEDIA-SEQUENCE:${first}`,
      `#EXT-X-DISCONTINUITY-SEQUENCE:${disc}`,
      `#EXT-X-MAP:URI="init-${first}.mp4"`,
      '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z',
      ...Array.from({ length: segments }, (_, i) => [
        `#EXT-X-PART:DURATION=0.300,URI="${first + i}.0.m4s"`,
        '#EXTINF:0.300,',
        `${first + i}.m4s`,
      ]).flat(),
      ...Array.from(
        { length: openParts },
        (_, k) => `#EXT-X-PART:DURATION=0.300,URI="${first + segments}.${k}.m4s"`,
      ),
      `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${first + segments}.${openParts}.m4s"`,
      '',
    ].join('\n');

  it('a move puts EXT-X-DISCONTINUITY before the new origin’s first segment (before its parts) and the count goes on', () => {
    const c = {
      streamUrl: 'http://a/live/x',
      discBase: 0,
      movedAt: undefined as number | undefined,
      lastDiscTotal: 0,
    };
    const before = withContinuity(playlist(100, 2, 3, 1), c);
    assert.match(before, /#EXT-X-DISCONTINUITY-SEQUENCE:2\n/);
    assert.equal(c.lastDiscTotal, 2);
    // origin b: its own count starts at 0, its sequence numbers are higher
    const moved = playlist(5000, 0, 1, 2);
    c.discBase = c.lastDiscTotal - 0;
    c.movedAt = 5000;
    c.streamUrl = 'http://b/live/x';
    const after = withContinuity(moved, c);
    // before every tag of that segment (its EXT-X-MAP, PROGRAM-DATE-TIME and parts)
    assert.match(
      after,
      /#EXT-X-DISCONTINUITY-SEQUENCE:2\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-5000\.mp4"\n#EXT-X-PROGRAM-DATE-TIME:[^\n]*\n#EXT-X-PART:DURATION=0\.300,URI="5000\.0\.m4s"/,
    );
    assert.deepEqual(validateLlPlaylist(after).problems, []);
    assert.equal(c.lastDiscTotal, 3);
    // once segment 5000 has slid out, the count includes it
    const later = withContinuity(playlist(5001, 0, 2, 0), c);
    assert.match(later, /#EXT-X-DISCONTINUITY-SEQUENCE:3\n/);
    assert.ok(!later.includes('#EXT-X-DISCONTINUITY\n'));
    assert.equal(c.movedAt, undefined);
  });
});
