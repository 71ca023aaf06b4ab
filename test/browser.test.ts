/**
 * The player page in a real browser (Debian's chromium driven by playwright-core): HTTP-FLV via
 * mpegts.js, HLS via hls.js and WebRTC via WHEP must all play (currentTime advances) with no
 * player error.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, noChromium, watchPlayback } from './helpers/browser.ts';
import { killAll, publish, type RelaycastProcess, ROOT, startRelaycast, waitFor } from './helpers/process.ts';

const ARTIFACTS = join(ROOT, 'test', '.artifacts');

describe('player page in chromium', {
  timeout: 180_000,
  skip: noChromium,
}, () => {
  let rc: RelaycastProcess;
  let browser: Browser;
  before(async () => {
    rc = await startRelaycast('all');
    publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/web`, { size: '640x360' });
    await waitFor(
      'HLS ready',
      async () =>
        (await fetch(`http://127.0.0.1:${rc.ports.http}/live/web.m3u8`)).status === 200 ? true : undefined,
      30_000,
      300,
    );
    browser = await launchChromium();
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await killAll();
  });

  for (const mode of ['flv', 'hls', 'webrtc'] as const) {
    it(`plays ${mode}`, async () => {
      const page = await browser.newPage();
      const consoleErrors: string[] = [];
      page.on('pageerror', (e) => consoleErrors.push(String(e)));
      await page.goto(`http://127.0.0.1:${rc.ports.http}/play/live/web?mode=${mode}`);
      const played = await watchPlayback(page, 3);
      // A string expression: the test is type-checked without DOM typings.
      const state = (await page.evaluate(
        '({ errors: [...window.relaycastPlayer.errors], mode: window.relaycastPlayer.mode })',
      )) as { errors: string[]; mode: string };
      await page.screenshot({ path: join(ARTIFACTS, `player-${mode}.png`) });
      await page.close();
      assert.equal(state.mode, mode);
      assert.deepEqual(state.errors, []);
      assert.deepEqual(consoleErrors, []);
      assert.ok(played.advanced > 3, `currentTime advanced only ${played.advanced} s`);
    });
  }

  for (const mode of ['flv', 'hls'] as const) {
    it(`${mode}: the page of a stream that is not live yet says so, retries, and plays once it is`, async () => {
      const name = `later-${mode}`;
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      try {
        await page.goto(`http://127.0.0.1:${rc.ports.http}/play/live/${name}?mode=${mode}`);
        const waiting = await waitFor(
          'the not-live notice',
          async () => {
            const st = (await page.evaluate(
              "({ status: window.relaycastPlayer.status, text: document.getElementById('status').textContent })",
            )) as { status: string; text: string };
            return st.status === 'waiting' ? st.text : undefined;
          },
          30_000,
          250,
        );
        assert.match(waiting, new RegExp(`live/${name} is not live yet`));
        // Still waiting after a retry: the page keeps trying, and reports no error.
        await waitFor(
          'a second attempt',
          async () => ((await page.evaluate('window.relaycastPlayer.retries')) as number) >= 2 || undefined,
          30_000,
          250,
        );
        publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/${name}`, { size: '320x240' });
        await waitFor(
          'playback after the broadcast starts',
          async () => {
            const t = (await page.evaluate("document.getElementById('video').currentTime")) as number;
            return t > 0.5 ? t : undefined;
          },
          90_000,
          250,
        );
        const st = (await page.evaluate(
          '({ status: window.relaycastPlayer.status, errors: [...window.relaycastPlayer.errors] })',
        )) as { status: string; errors: string[] };
        assert.equal(st.status, 'live');
        assert.deepEqual(st.errors, []);
        assert.deepEqual(pageErrors, []);
      } finally {
        await page.close();
      }
    });
  }
});
