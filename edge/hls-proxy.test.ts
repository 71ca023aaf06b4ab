import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addQueryToSegments, ByteLru, rewriteForMove } from './hls-proxy.ts';

const playlist = (seq: number, disc: number, segs: string[]) =>
  [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    '#EXT-X-TARGETDURATION:1',
    `#EXT-X-MEDIA-SEQUENCE:${seq}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${disc}`,
    ...segs,
    '',
  ].join('\n');
const seg = (n: number, disc = false) => [
  ...(disc ? ['#EXT-X-DISCONTINUITY'] : []),
  '#EXTINF:1.000,',
  `s-${n}.ts`,
];

describe('edge HLS continuity across an origin move', () => {
  it('injects one discontinuity at the first segment of the new origin and keeps the sequence rising', () => {
    const h = { originUrl: 'a', discBase: 0, movedAt: undefined as number | undefined, lastDiscTotal: 0 };
    const a = rewriteForMove(playlist(10, 2, [...seg(10), ...seg(11, true), ...seg(12)]), h);
    assert.match(a, /#EXT-X-DISCONTINUITY-SEQUENCE:2\n/);
    assert.equal(h.lastDiscTotal, 3, 'last segment is in discontinuity 3');
    // moved to origin B, whose packager starts fresh at sequence 500, discontinuity 0
    h.originUrl = 'b';
    h.discBase = h.lastDiscTotal - 0;
    h.movedAt = 500;
    const b = rewriteForMove(playlist(500, 0, [...seg(500), ...seg(501)]), h);
    assert.match(b, /#EXT-X-DISCONTINUITY-SEQUENCE:3\n#EXT-X-DISCONTINUITY\n#EXTINF:1.000,\ns-500.ts/);
    assert.equal(b.match(/#EXT-X-DISCONTINUITY\n/g)?.length, 1);
    // once s-500 leaves the window, the sequence counts the removed tag (RFC 8216 6.2.1)
    const later = rewriteForMove(playlist(501, 0, [...seg(501), ...seg(502)]), h);
    assert.match(later, /#EXT-X-DISCONTINUITY-SEQUENCE:4\n/);
    assert.doesNotMatch(later, /#EXT-X-DISCONTINUITY\n/);
  });

  it('adds the token query to segment URIs only', () => {
    const text = addQueryToSegments(playlist(1, 0, seg(1)), '?expires=1&sig=ab');
    assert.match(text, /s-1.ts\?expires=1&sig=ab/);
    assert.doesNotMatch(text, /#EXTINF[^\n]*\?/);
  });

  it('ByteLru keeps within its byte budget, evicting least recently used', () => {
    const lru = new ByteLru(10);
    lru.set('a', Buffer.alloc(4));
    lru.set('b', Buffer.alloc(4));
    lru.get('a');
    lru.set('c', Buffer.alloc(4));
    assert.ok(lru.get('a') && lru.get('c'));
    assert.equal(lru.get('b'), undefined);
    assert.ok(lru.size <= 10);
  });
});
