import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PAGE_CSP, renderIndexPage, renderPlayerPage } from './player.ts';

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
