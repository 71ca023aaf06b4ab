/**
 * LL-HLS latency in a real browser: relaycast (all-in-one, or redis + origin + edge with
 * --via edge), an ffmpeg publisher with a --gop-frame keyframe interval (250 = OBS's default
 * "auto" at 30 fps), and the player page's LL-HLS mode (hls.js lowLatencyMode) in headless
 * Chromium for --duration seconds. Measures start-up (page load to the first decoded video frame), latency
 * from EXT-X-PROGRAM-DATE-TIME (the server's arrival clock of the frame on screen; sampled every
 * 500 ms after a 5 s settling time), stalls (the video element's `waiting` events) and player
 * errors. Prints one JSON line.
 *
 *   node bench/llhls-latency.ts [--gop 250] [--duration 120] [--part-target 0.333] [--via all|edge]
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CHROMIUM, launchChromium } from '../test/helpers/browser.ts';
import { benchArgs } from './args.ts';
import { children, startNode, startRedisServer } from './cluster-lib.ts';
import { machine } from './lib.ts';

const { values } = benchArgs(
  import.meta.filename,
  `node bench/llhls-latency.ts [--gop 250] [--duration 120] [--part-target 0.333] [--via all|edge]

LL-HLS latency in a real browser: relaycast (all-in-one, or redis + origin + edge with
--via edge), an ffmpeg publisher with a --gop-frame keyframe interval (250 = OBS's default
"auto" at 30 fps), and the player page's LL-HLS mode (hls.js lowLatencyMode) in headless
Chromium for --duration seconds. Measures start-up, latency from EXT-X-PROGRAM-DATE-TIME,
stalls and player errors. Prints one JSON line. Needs /usr/bin/chromium.`,
  {
    gop: { type: 'string', default: '250' },
    duration: { type: 'string', default: '120' },
    'part-target': { type: 'string', default: '0.333' },
    via: { type: 'string', default: 'all' },
  },
);
if (!existsSync(CHROMIUM)) {
  console.error(`llhls-latency.ts: ${CHROMIUM} is missing (apt-get install chromium)`);
  process.exit(2);
}
const via = values.via === 'edge' ? 'edge' : 'all';
const partTarget = ['--hls-part-target', String(values['part-target'])];
let publishTo: number;
let playFrom: number;
if (via === 'edge') {
  const redis = await startRedisServer();
  const cluster = ['--redis-url', redis, '--advertise-host', '127.0.0.1'];
  const origin = await startNode('origin', [
    ...cluster,
    '--node-id',
    'bench-origin',
    '--http-port',
    '0',
    ...partTarget,
  ]);
  const edge = await startNode('edge', [...cluster, '--node-id', 'bench-edge', '--internal-port', '0']);
  publishTo = origin.rtmp;
  playFrom = edge.http;
} else {
  const node = await startNode('all', partTarget);
  publishTo = node.rtmp;
  playFrom = node.http;
}
children.push(
  spawn(
    'ffmpeg',
    [
      ...[
        '-v',
        'error',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=854x480:rate=30',
        '-f',
        'lavfi',
        '-i',
        'sine',
      ],
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', String(values.gop)],
      ...['-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', `rtmp://127.0.0.1:${publishTo}/live/lat`],
    ],
    { stdio: 'ignore' },
  ),
);
// Until the stream is live: the first part of a stream needs its first keyframe.
const liveBy = Date.now() + 30_000;
while (Date.now() < liveBy) {
  const res = await fetch(`http://127.0.0.1:${playFrom}/live/lat/ll.m3u8`).catch(() => undefined);
  await res?.body?.cancel();
  if (res?.status === 200) break;
  await new Promise((r) => setTimeout(r, 200));
}
const browser = await launchChromium(); // the browser tests' flags (test/helpers/browser.ts)
const page = await browser.newPage();
// The first decoded frame, timed in the page (from navigation start) for the breakdown below.
await page.addInitScript(`(() => {
  const t = setInterval(() => {
    const v = document.getElementById('video');
    if (v && v.getVideoPlaybackQuality().totalVideoFrames > 0) { window.__firstFrameAt = performance.now(); clearInterval(t); }
  }, 5);
  setTimeout(() => clearInterval(t), 30000);
})()`);
const t0 = Date.now();
await page.goto(`http://127.0.0.1:${playFrom}/play/live/lat?mode=llhls`);
// Start-up: until the first video frame is decoded (not just the clock running on audio).
let startupMs: number | null = null;
while (Date.now() - t0 < 30_000) {
  const frames = (await page.evaluate(
    "document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames",
  )) as number;
  if (frames > 0) {
    startupMs = Date.now() - t0;
    break;
  }
  await new Promise((r) => setTimeout(r, 50));
}
// Where start-up went: when each first resource of its kind finished, from navigation start.
const startupBreakdown = (await page.evaluate(`(() => {
  const out = {};
  const firstFrameAt = window.__firstFrameAt ?? Infinity;
  out.firstFrameMs = Math.round(firstFrameAt);
  const mark = (k, t) => { if (out[k] === undefined) out[k] = Math.round(t); };
  mark('pageMs', performance.getEntriesByType('navigation')[0]?.responseEnd ?? 0);
  for (const e of performance.getEntriesByType('resource')) {
    const u = e.name;
    if (u.includes('/_player/player.js')) mark('playerJsMs', e.responseEnd);
    else if (u.includes('/_player/hls')) mark('hlsJsMs', e.responseEnd);
    else if (u.includes('ll.m3u8')) mark('firstPlaylistMs', e.responseEnd);
    else if (u.includes('/init-')) mark('initMs', e.responseEnd);
    else if (/^[0-9]+[.][0-9]+[.]m4s$/.test(new URL(u).pathname.split("/").pop())) {
      mark('firstPartMs', e.responseEnd);
      out.partsBeforeFirstFrame = (out.partsBeforeFirstFrame || 0) + (e.responseEnd < firstFrameAt ? 1 : 0);
    }
  }
  return out;
})()`)) as Record<string, number>;
await new Promise((r) => setTimeout(r, 5000));
const stalls0 = (await page.evaluate('window.relaycastPlayer.stalls')) as number;
const latencies: number[] = [];
const end = Date.now() + Number(values.duration) * 1000;
while (Date.now() < end) {
  const l = (await page.evaluate('window.relaycastPlayer.latency()')) as number | null;
  if (l !== null && Number.isFinite(l)) latencies.push(l * 1000);
  await new Promise((r) => setTimeout(r, 500));
}
const state = (await page.evaluate(
  "({ stalls: window.relaycastPlayer.stalls, catchUps: window.relaycastPlayer.catchUps, errors: [...window.relaycastPlayer.errors], t: document.getElementById('video').currentTime })",
)) as { stalls: number; catchUps: number; errors: string[]; t: number };
await browser.close();
const sorted = [...latencies].sort((a, b) => a - b);
const pct = (p: number) =>
  sorted.length
    ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!)
    : null;
console.log(
  JSON.stringify({
    bench: 'llhls-latency',
    via,
    gopFrames: Number(values.gop),
    partTargetS: Number(values['part-target']),
    durationS: Number(values.duration),
    startupMs,
    startupBreakdown,
    latencyMsP50: pct(50),
    latencyMsP90: pct(90),
    latencyMsMax: sorted.length ? Math.round(sorted[sorted.length - 1]!) : null,
    samples: sorted.length,
    stalls: state.stalls - stalls0,
    catchUps: state.catchUps,
    playerErrors: state.errors,
    playedS: Math.round(state.t),
    machine: machine(),
  }),
);
process.exit(0);
