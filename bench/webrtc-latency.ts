/**
 * WebRTC glass-to-glass latency on loopback. This script is the camera: 30 times a second it
 * paints Date.now() into a 640x360 picture (bench/pixel-clock.ts) and writes it raw to ffmpeg's
 * stdin (with matching raw audio on fd 3), which encodes x264 (-tune zerolatency, --gop) + AAC and
 * publishes RTMP to relaycast (all-in-one, or redis + origin + edge with --via edge). Headless
 * Chromium plays the stream with a plain RTCPeerConnection and one WHEP POST, copies every frame
 * it presents (requestVideoFrameCallback) to a canvas, reads the clock back and records
 * latency = the frame's expected display time − the clock in it (one machine, one clock).
 * Prints one JSON line.
 *
 *   node bench/webrtc-latency.ts [--gop 60] [--duration 30] [--via all|edge] [--audio true|false]
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { CHROMIUM, launchChromium } from '../test/helpers/browser.ts';
import { benchArgs } from './args.ts';
import { children } from './cluster-lib.ts';
import { machine } from './lib.ts';
import { CLOCK_ROW_Y, clockLatencyMs, decodeClockRow, paintClock } from './pixel-clock.ts';
import { percentile, startWebrtcTarget, waitLive } from './webrtc-lib.ts';

const W = 640;
const H = 360;
const FPS = 30;
const AUDIO_HZ = 48_000;

const { values } = benchArgs(
  import.meta.filename,
  `node bench/webrtc-latency.ts [--gop 60] [--duration 30] [--via all|edge] [--audio true|false]

WebRTC glass-to-glass latency on loopback: this script paints Date.now() into 640x360 frames at
30 fps as black/white blocks and pipes them raw into ffmpeg (x264 -tune zerolatency -preset
veryfast -g GOP, AAC), which publishes RTMP to relaycast (all-in-one, or redis + origin + edge
with --via edge). Headless Chromium plays it over WHEP (a plain RTCPeerConnection), reads the
clock back from every presented frame and records display time − painted time for --duration
seconds after a --settle period. Reports p50/p95/p99/max, frames read, unreadable frames, time to
the first frame and the browser's own inbound-rtp figures. Prints one JSON line. Needs
/usr/bin/chromium and ffmpeg with libx264.`,
  {
    gop: { type: 'string', default: '60' },
    duration: { type: 'string', default: '30' },
    settle: { type: 'string', default: '3' },
    via: { type: 'string', default: 'all' },
    audio: { type: 'string', default: 'true' },
    kbps: { type: 'string', default: '1000' },
  },
);
if (!existsSync(CHROMIUM)) {
  console.error(`webrtc-latency.ts: ${CHROMIUM} is missing (apt-get install chromium)`);
  process.exit(2);
}
const via = values.via === 'edge' ? 'edge' : 'all';
const withAudio = values.audio !== 'false';
const gop = Number(values.gop);
const durationS = Number(values.duration);
const settleS = Number(values.settle);
const target = await startWebrtcTarget(via);
const http = target.viewerNode.http;

// --- the camera: raw frames (and raw audio) paced by the wall clock into ffmpeg --------------
const ffmpeg = spawn(
  'ffmpeg',
  [
    ...['-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${W}x${H}`, '-framerate', String(FPS)],
    ...['-i', 'pipe:0'],
    ...(withAudio ? ['-f', 's16le', '-ar', String(AUDIO_HZ), '-ac', '1', '-i', 'pipe:3'] : []),
    ...['-map', '0:v', ...(withAudio ? ['-map', '1:a'] : [])],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', String(gop)],
    ...['-b:v', `${values.kbps}k`, '-maxrate', `${values.kbps}k`, '-bufsize', `${values.kbps}k`],
    ...(withAudio ? ['-c:a', 'aac', '-b:a', '96k'] : []),
    ...['-f', 'flv', `rtmp://127.0.0.1:${target.publishRtmp}/live/g2g`],
  ],
  { stdio: ['pipe', 'ignore', 'inherit', 'pipe'] },
);
children.push(ffmpeg);
const videoIn = ffmpeg.stdin!;
const audioIn = ffmpeg.stdio[3] as NodeJS.WritableStream;
videoIn.on('error', () => {});
(audioIn as unknown as { on(e: string, f: () => void): void }).on('error', () => {});
const frameBytes = W * H * 1.5;
const samplesPerFrame = AUDIO_HZ / FPS;
let framesSent = 0;
// frames written but not yet taken by ffmpeg (a backlog here would be latency of the camera's own)
let queuedFramesMax = 0;
let cameraOn = true;
const cameraT0 = performance.now();
function paintFrame(): void {
  if (!cameraOn || ffmpeg.exitCode !== null) return;
  const frame = Buffer.alloc(frameBytes);
  const luma = frame.subarray(0, W * H);
  luma.fill(96);
  // something that moves, so the encoder has real work between clock changes
  const bar = (framesSent * 8) % W;
  for (let y = 64; y < H; y++) luma.fill(200, y * W + bar, y * W + Math.min(W, bar + 32));
  frame.fill(128, W * H); // neutral chroma
  paintClock(luma, W, Date.now());
  videoIn.write(frame);
  queuedFramesMax = Math.max(queuedFramesMax, Math.floor(videoIn.writableLength / frameBytes));
  if (withAudio) {
    const pcm = Buffer.alloc(samplesPerFrame * 2);
    for (let i = 0; i < samplesPerFrame; i++) {
      const t = (framesSent * samplesPerFrame + i) / AUDIO_HZ;
      pcm.writeInt16LE(Math.round(Math.sin(2 * Math.PI * 440 * t) * 6000), i * 2);
    }
    audioIn.write(pcm);
  }
  framesSent++;
  const next = cameraT0 + (framesSent * 1000) / FPS;
  setTimeout(paintFrame, Math.max(0, next - performance.now()));
}
paintFrame();
if (!(await waitLive(`http://127.0.0.1:${http}/live/g2g.m3u8`))) {
  console.error(
    'webrtc-latency.ts: the stream did not go live within 30 s (is ffmpeg with libx264 installed?)',
  );
  process.exit(1);
}

// --- the viewer: a plain page, nothing from this project but the clock reader ---------------
const PAGE = `<!doctype html><html><body><video id="v" autoplay muted playsinline></video><script>
const decodeClockRow = ${decodeClockRow.toString()};
const clockLatencyMs = ${clockLatencyMs.toString()};
window.r = { callbacks: 0, read: 0, failures: 0, samples: [], firstFrameMs: null, firstFrameAgeMs: null, liveMs: null, recording: false, windowFailures: 0, postMs: null };
window.play = async (url) => {
  const r = window.r;
  const t0 = performance.now();
  const pc = new RTCPeerConnection();
  window.pc = pc;
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const video = document.getElementById('v');
  const media = new MediaStream();
  pc.ontrack = (e) => { media.addTrack(e.track); video.srcObject = media; };
  const canvas = document.createElement('canvas');
  canvas.width = ${W}; canvas.height = ${H};
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const onFrame = (now, meta) => {
    // when the compositor expects to show this frame, on the Date.now() clock; a callback that
    // runs late (after that moment) counts from when it ran, the later of the two
    const shownAt = Date.now() + Math.max(0, meta.expectedDisplayTime - performance.now());
    r.callbacks++;
    ctx.drawImage(video, 0, 0, ${W}, ${H});
    const value = decodeClockRow(ctx.getImageData(0, ${CLOCK_ROW_Y}, ${W}, 1).data, 4);
    if (value === null) { r.failures++; if (r.recording) r.windowFailures++; }
    else {
      r.read++;
      const latency = clockLatencyMs(value, shownAt);
      if (r.firstFrameMs === null) { r.firstFrameMs = performance.now() - t0; r.firstFrameAgeMs = latency; }
      if (r.liveMs === null && latency < 1000) r.liveMs = performance.now() - t0;
      if (r.recording) r.samples.push(latency);
    }
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer.sdp });
  if (res.status !== 201) throw new Error('WHEP POST answered ' + res.status + ': ' + await res.text());
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  r.postMs = performance.now() - t0;
};
window.inbound = async () => {
  const out = {};
  (await window.pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp') out[s.kind] = s; });
  return out;
};
</script></body></html>`;
const pageServer = createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html' });
  res.end(PAGE);
});
await new Promise<void>((r) => pageServer.listen(0, '127.0.0.1', r));
const pageAddr = pageServer.address();
const pagePort = typeof pageAddr === 'object' && pageAddr ? pageAddr.port : 0;
const browser = await launchChromium(); // the browser tests' flags (test/helpers/browser.ts)
const page = await browser.newPage();
const pageErrors: string[] = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
await page.goto(`http://127.0.0.1:${pagePort}/`);
await page.evaluate(`window.play('http://127.0.0.1:${http}/live/g2g/whep')`);
// until the first readable frame (bounded), then settle, then record
const firstBy = Date.now() + 30_000;
while (Date.now() < firstBy && (await page.evaluate('window.r.firstFrameMs')) === null)
  await new Promise((r) => setTimeout(r, 50));
await new Promise((r) => setTimeout(r, settleS * 1000));
await page.evaluate('window.r.recording = true');
await new Promise((r) => setTimeout(r, durationS * 1000));
await page.evaluate('window.r.recording = false');
type PageResult = {
  callbacks: number;
  read: number;
  failures: number;
  windowFailures: number;
  samples: number[];
  firstFrameMs: number | null;
  firstFrameAgeMs: number | null;
  liveMs: number | null;
  postMs: number | null;
};
const r = (await page.evaluate('window.r')) as PageResult;
type Inbound = Record<string, Record<string, number> | undefined>;
const inbound = (await page.evaluate('window.inbound()')) as Inbound;
cameraOn = false;
await browser.close();
pageServer.close();
const v = inbound.video ?? {};
const sorted = [...r.samples].sort((a, b) => a - b);
const avg = (sum: number | undefined, n: number | undefined) =>
  sum !== undefined && n ? Math.round((sum / n) * 1000) : null;
console.log(
  JSON.stringify({
    bench: 'webrtc-latency',
    via,
    gopFrames: gop,
    videoKbps: Number(values.kbps),
    audio: withAudio,
    durationS,
    latencyMsP50: percentile(sorted, 50),
    latencyMsP95: percentile(sorted, 95),
    latencyMsP99: percentile(sorted, 99),
    latencyMsMax: sorted.length ? Math.round(sorted[sorted.length - 1]!) : null,
    latencyMsMin: sorted.length ? Math.round(sorted[0]!) : null,
    framesRead: sorted.length,
    framesExpected: durationS * FPS,
    // presented frames whose clock failed its CRC (a damaged picture), in the window and overall
    decodeFailures: r.windowFailures,
    decodeFailuresTotal: r.failures,
    whepAnswerMs: r.postMs === null ? null : Math.round(r.postMs),
    timeToFirstFrameMs: r.firstFrameMs === null ? null : Math.round(r.firstFrameMs),
    // how old the first picture was (a new viewer starts on the cached GOP)
    firstFrameAgeMs: r.firstFrameAgeMs === null ? null : Math.round(r.firstFrameAgeMs),
    // until the first frame shown less than 1 s after it was painted (caught up with live)
    timeToLiveFrameMs: r.liveMs === null ? null : Math.round(r.liveMs),
    browser: {
      framesDecoded: v.framesDecoded ?? null,
      framesDropped: v.framesDropped ?? null,
      freezeCount: v.freezeCount ?? null,
      jitterBufferMsAvg: avg(v.jitterBufferDelay, v.jitterBufferEmittedCount),
      decodeMsAvg: avg(v.totalDecodeTime, v.framesDecoded),
      packetsLost: v.packetsLost ?? null,
      nackCount: v.nackCount ?? null,
      pliCount: v.pliCount ?? null,
      audioPackets: inbound.audio?.packetsReceived ?? null,
      audioJitterBufferMsAvg: avg(inbound.audio?.jitterBufferDelay, inbound.audio?.jitterBufferEmittedCount),
    },
    publisher: { framesSent, queuedFramesMax },
    pageErrors,
    machine: machine(),
  }),
);
process.exit(0);
