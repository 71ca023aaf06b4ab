/**
 * HLS latency. Polls a live playlist for --duration seconds and, for each new segment, measures:
 * - availability: from the wall-clock time of the segment's last frame (PROGRAM-DATE-TIME +
 *   duration) to the moment the playlist lists it (packaging delay);
 * - player latency at the live edge: a player holding N segments of buffer (hls.js default
 *   liveSyncDurationCount 3) plays the segment that starts N segments back from the newest, so its
 *   latency ≈ now − that segment's PROGRAM-DATE-TIME.
 * Prints one JSON line.
 *
 *   node bench/hls-latency.ts [--gop 30] [--target 1] [--duration 30] [--sync-count 3]
 */

import { spawn } from 'node:child_process';
import { benchArgs } from './args.ts';
import { children, startNode } from './cluster-lib.ts';
import { machine } from './lib.ts';

const { values } = benchArgs(
  import.meta.filename,
  `node bench/hls-latency.ts [--gop 30] [--target 1] [--duration 30] [--sync-count 3]

HLS latency. Polls a live playlist for --duration seconds and, for each new segment, measures:
- availability: from the wall-clock time of the segment's last frame (PROGRAM-DATE-TIME +
  duration) to the moment the playlist lists it (packaging delay);
- player latency at the live edge: a player holding N segments of buffer (hls.js default
  liveSyncDurationCount 3) plays the segment that starts N segments back from the newest, so its
  latency ≈ now − that segment's PROGRAM-DATE-TIME.
Prints one JSON line.`,
  {
    gop: { type: 'string', default: '30' },
    target: { type: 'string', default: '1' },
    duration: { type: 'string', default: '30' },
    'sync-count': { type: 'string', default: '3' },
  },
);
const node = await startNode('all', ['--hls-target-duration', String(values.target)]);
const pub = spawn(
  'ffmpeg',
  [
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
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-tune',
    'zerolatency',
    '-g',
    String(values.gop),
    '-c:a',
    'aac',
    '-f',
    'flv',
    `rtmp://127.0.0.1:${node.rtmp}/live/lat`,
  ],
  { stdio: 'ignore' },
);
children.push(pub);
const syncCount = Number(values['sync-count']);
const seen = new Set<string>();
const availability: number[] = [];
const playerLatency: number[] = [];
const durations: number[] = [];
const end = Date.now() + Number(values.duration) * 1000;
while (Date.now() < end) {
  const res = await fetch(`http://127.0.0.1:${node.http}/live/lat.ts.m3u8`).catch(() => undefined);
  const text = res?.ok ? await res.text() : '';
  const now = Date.now();
  const segs: { pdt: number; dur: number; uri: string }[] = [];
  let pdt = 0;
  let dur = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25));
    else if (line.startsWith('#EXTINF:')) dur = Number.parseFloat(line.slice(8)) * 1000;
    else if (line && !line.startsWith('#')) {
      segs.push({ pdt, dur, uri: line });
      pdt += dur;
    }
  }
  const newest = segs.at(-1);
  if (newest && !seen.has(newest.uri)) {
    seen.add(newest.uri);
    if (seen.size > 2) {
      // skip the first segments (start-up)
      availability.push(now - (newest.pdt + newest.dur));
      durations.push(newest.dur);
      const playing = segs[Math.max(0, segs.length - syncCount)]!;
      playerLatency.push(now - playing.pdt);
    }
  }
  await new Promise((r) => setTimeout(r, 50));
}
const avg = (xs: number[]) => (xs.length ? Math.round(xs.reduce((a, b) => a + b, 0) / xs.length) : null);
console.log(
  JSON.stringify({
    bench: 'hls-latency',
    gopFrames: Number(values.gop),
    targetDurationS: Number(values.target),
    segments: availability.length,
    segmentDurationMsAvg: avg(durations),
    availabilityMsAvg: avg(availability),
    playerLatencyMsAvg: avg(playerLatency),
    playerLatencyMsMax: playerLatency.length ? Math.max(...playerLatency) : null,
    liveSyncDurationCount: syncCount,
    machine: machine(),
  }),
);
process.exit(0);
