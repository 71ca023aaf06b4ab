import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { LL_HLS_CONFIG, PAGE_CSP, renderIndexPage, renderPlayerPage, servePlayerAsset } from './player.ts';

const HOSTILE = '</script><script>alert(1)</script>"\'><img src=x onerror=alert(2)>';

describe('player page: request data never becomes markup or script', () => {
  it('has no inline script: the page loads player.js and reads escaped data attributes', () => {
    const html = renderPlayerPage(HOSTILE, HOSTILE, `?q=${HOSTILE}`);
    assert.ok(!html.includes('<script>'), 'no inline <script> element');
    for (const m of html.matchAll(/<script\b[^>]*>/g))
      assert.match(m[0], /^<script src="\/_player\/[a-z.]+">$/);
    assert.ok(!html.includes('</script><script>alert'), 'the payload is not in the page as markup');
    assert.ok(!html.includes('<img src=x'), 'no injected element');
    assert.match(html, /data-name="&#60;\/script&#62;/, 'the name is in an escaped attribute');
  });

  it('escapes stream names on the index page', () => {
    const html = renderIndexPage([{ app: 'live', name: HOSTILE }]);
    assert.ok(!html.includes('<img src=x'));
    assert.ok(!html.includes('<script>'));
  });

  it('with signed play the index names no stream and says how to sign', () => {
    const html = renderIndexPage([{ app: 'live', name: 'secret-event' }], false);
    assert.ok(!html.includes('secret-event'));
    assert.match(html, /relaycast sign live/);
  });

  it('the CSP forbids inline scripts, plug-ins and foreign framing', () => {
    assert.match(PAGE_CSP, /script-src 'self'(;|$)/);
    assert.doesNotMatch(PAGE_CSP, /unsafe-inline[^;]*;.*script-src|script-src[^;]*unsafe-inline/);
    assert.match(PAGE_CSP, /object-src 'none'/);
    assert.match(PAGE_CSP, /frame-ancestors 'self'/);
  });
});

describe('player page: LL-HLS mode (hls.js 1.7) with long GOPs', () => {
  /** The served player.js (what the browser runs). */
  function playerJs(): string {
    let body = '';
    const res = {
      writeHead: () => res,
      end: (b?: Buffer) => {
        body = b ? b.toString() : '';
      },
    } as unknown as ServerResponse;
    servePlayerAsset('player.js', { method: 'GET' } as IncomingMessage, res);
    return body;
  }

  it('no interstitials controller: its late startLoad() restarts loading mid-GOP at the first seek', () => {
    // With autoStartLoad: false and the MediaSource open before the first playlist, hls.js's
    // interstitials controller calls startLoad() again at the first seek: the part in flight is
    // aborted, the init segment appended again, and Chromium drops media until the next keyframe.
    assert.equal(LL_HLS_CONFIG.autoStartLoad, false, 'the page picks the start (last INDEPENDENT part)');
    assert.ok('interstitialsController' in LL_HLS_CONFIG);
    assert.equal(LL_HLS_CONFIG.interstitialsController, null);
  });

  it('no back-buffer flushes: one ending between a part loaded and appended stalls hls.js', () => {
    // hls.js's fragment tracker then forgets the segment being loaded (and its buffered parts) and
    // loads nothing past its end while the playlist still lists those parts.
    assert.ok(!('backBufferLength' in LL_HLS_CONFIG), 'hls.js default: the browser evicts old media');
    assert.ok(!('liveBackBufferLength' in LL_HLS_CONFIG));
  });

  it('player.js creates the LL-HLS player with exactly that configuration', () => {
    const js = playerJs();
    assert.ok(
      js.includes(`new Hls(next === 'llhls'\n          ? ${JSON.stringify(LL_HLS_CONFIG)}`),
      'LL mode uses LL_HLS_CONFIG',
    );
    assert.match(js, /"interstitialsController":null/);
    assert.doesNotMatch(js, /backBufferLength/);
  });
});
