import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideBlockingReload } from '../media/hls/ll-blocking.ts';
import { validateLlPlaylist } from '../media/hls/ll-validate.ts';
import { positionOf, rewriteLlUris } from './llhls-proxy.ts';

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
