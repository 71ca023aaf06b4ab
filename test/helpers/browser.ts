/**
 * Debian's chromium, driven by playwright-core, as every browser test launches it: headless, no
 * sandbox (root in CI), no GPU or background traffic, autoplay allowed, and WebRTC on loopback
 * (WHEP answers carry 127.0.0.1 candidates).
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** A skip reason when chromium is missing (for describe/it options), else false. */
export const noChromium = !existsSync(CHROMIUM) && 'chromium not installed (apt-get install chromium)';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--autoplay-policy=no-user-gesture-required',
      '--allow-loopback-in-peer-connection',
    ],
  });
}

const VIDEO_CLOCK =
  "({ t: document.getElementById('video').currentTime, frames: document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames })";

/**
 * Watches the page's #video: waits up to `startTimeoutMs` for playback to start (currentTime past
 * 0.2 s), then until its clock has advanced `seconds` and it decoded `frames` more pictures. That
 * normally takes about `seconds`; the 30 s bound only ends a stuck player (a busy CI box may be
 * slow, which is not what the browser tests check). Returns how far it got, for the caller to assert.
 */
export async function watchPlayback(
  page: Page,
  seconds: number,
  frames = 0,
  startTimeoutMs = 30_000,
): Promise<{ advanced: number; decoded: number }> {
  const read = async () => (await page.evaluate(VIDEO_CLOCK)) as { t: number; frames: number };
  let first = await read();
  for (const deadline = Date.now() + startTimeoutMs; first.t <= 0.2 && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 250));
    first = await read();
  }
  if (first.t <= 0.2) throw new Error(`playback did not start within ${startTimeoutMs / 1000} s`);
  let now = first;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 500));
    now = await read();
    if (now.t - first.t > seconds && now.frames - first.frames > frames) break;
  }
  return { advanced: now.t - first.t, decoded: now.frames - first.frames };
}
