import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../core/metrics.ts';
import { addQueryToSegments, ByteLru, HlsProxy, rewriteForMove } from './hls-proxy.ts';
import type { RouteResolver } from './route.ts';

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

  it('adds the token to EXT-X-KEY URIs too (the key endpoint needs it), leaving other tags alone', () => {
    const text = addQueryToSegments(
      playlist(1, 0, [
        '#EXT-X-KEY:METHOD=AES-128,URI="s/keys/1",IV=0x00000000000000000000000000000001',
        ...seg(1),
      ]),
      '?expires=1&sig=ab',
    );
    assert.match(text, /#EXT-X-KEY:METHOD=AES-128,URI="s\/keys\/1\?expires=1&sig=ab",IV=0x0+1\n/);
    assert.match(text, /s-1.ts\?expires=1&sig=ab/);
    assert.equal(addQueryToSegments('#EXT-X-KEY:METHOD=NONE\n', '?a=1'), '#EXT-X-KEY:METHOD=NONE\n');
  });

  it('fetches an HLS key from the registry once for concurrent viewers and caches it', async () => {
    let reads = 0;
    const key = Buffer.alloc(16, 9);
    const proxy = new HlsProxy(
      {} as RouteResolver,
      {
        clusterToken: undefined,
        playlistTtlMs: 100,
        segmentCacheBytes: 1024 * 1024,
        keys: {
          getHlsKey: async (app, name, id) => {
            reads++;
            await new Promise((r) => setTimeout(r, 5));
            return app === 'live' && name === 's' && id === '7' ? key : undefined;
          },
        },
      },
      createMetrics({ role: 'edge', nodeId: 'e', version: 't', maxStreams: 10 }),
    );
    const got = await Promise.all([proxy.key('live', 's', '7'), proxy.key('live', 's', '7')]);
    assert.deepEqual(got, [key, key]);
    assert.equal(reads, 1, 'coalesced');
    assert.deepEqual(await proxy.key('live', 's', '7'), key);
    assert.equal(reads, 1, 'cached');
    assert.equal(await proxy.key('live', 's', '8'), undefined);
    assert.equal(await proxy.key('live', 's', '8'), undefined);
    assert.equal(reads, 3, 'misses are not cached (the key may be stored a moment later)');
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
