/**
 * Debian's chromium, driven by playwright-core, as every browser test launches it: headless, no
 * sandbox (root in CI), no GPU or background traffic, autoplay allowed, and WebRTC on loopback
 * (WHEP answers carry 127.0.0.1 candidates).
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

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
