/**
 * Viewer swarm: N concurrent HTTP-FLV viewers from one process. Measures connect time, time to
 * first keyframe, how far each viewer falls behind real time, and throughput. Prints one JSON
 * line. Bounded: every viewer stops after --duration seconds.
 *
 *   node bench/swarm.ts --url http://127.0.0.1:8080/live/bench.flv --viewers 1000 --ramp 5 --duration 20
 */
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { FlvScanner } from './flv-scan.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    viewers: { type: 'string', default: '200' },
    ramp: { type: 'string', default: '2' },
    duration: { type: 'string', default: '10' },
    'stall-ms': { type: 'string', default: '2000' },
    'slow-fraction': { type: 'string', default: '0' },
  },
});
if (!values.url) {
  console.error(
    'usage: node bench/swarm.ts --url http://HOST:PORT/app/name.flv [--viewers N] [--ramp S] [--duration S]',
  );
  process.exit(2);
}
const url = new URL(values.url);
const viewers = Number(values.viewers);
const rampMs = Number(values.ramp) * 1000;
const durationMs = Number(values.duration) * 1000;
const stallMs = Number(values['stall-ms']);
const slowFraction = Number(values['slow-fraction']);

interface ViewerStats {
  startedAt: number;
  connectMs?: number;
  firstKeyframeMs?: number;
  firstVideoWasKeyframe?: boolean;
  bytes: number;
  firstTagWall?: number;
  firstTagTs?: number;
  maxLagMs: number;
  lastLagMs: number;
  lastDataAt: number;
  failed?: string;
  ended: boolean;
  slow: boolean;
}

const stats: ViewerStats[] = [];
const sockets: Socket[] = [];

function startViewer(slow: boolean): void {
  const v: ViewerStats = {
    startedAt: performance.now(),
    bytes: 0,
    maxLagMs: 0,
    lastLagMs: 0,
    lastDataAt: performance.now(),
    ended: false,
    slow,
  };
  stats.push(v);
  const scanner = new FlvScanner();
  let headerDone = false;
  let headerBuf = '';
  const sock = connect({ host: url.hostname, port: Number(url.port) });
  sockets.push(sock);
  sock.setNoDelay(true);
  sock.on('connect', () => {
    v.connectMs = performance.now() - v.startedAt;
    // HTTP/1.0: the server answers with a close-delimited body (no chunk framing to parse).
    sock.write(`GET ${url.pathname}${url.search} HTTP/1.0\r\nHost: ${url.host}\r\n\r\n`);
    // A slow viewer reads nothing after the first second (its kernel buffers fill up).
    if (slow) setTimeout(() => sock.pause(), 1000).unref();
  });
  sock.on('data', (chunk: Buffer) => {
    const now = performance.now();
    v.lastDataAt = now;
    let body = chunk;
    if (!headerDone) {
      headerBuf += chunk.toString('latin1');
      const end = headerBuf.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!headerBuf.startsWith('HTTP/1.1 200') && !headerBuf.startsWith('HTTP/1.0 200')) {
        v.failed = headerBuf.slice(0, headerBuf.indexOf('\r\n'));
        sock.destroy();
        return;
      }
      headerDone = true;
      body = Buffer.from(headerBuf.slice(end + 4), 'latin1');
    }
    v.bytes += body.length;
    scanner.push(body, (t) => {
      if (t.type !== 9 || t.config) return;
      if (t.keyframe && v.firstKeyframeMs === undefined) v.firstKeyframeMs = now - v.startedAt;
      if (v.firstTagWall === undefined) {
        v.firstTagWall = now;
        v.firstTagTs = t.timestamp;
        v.firstVideoWasKeyframe = t.keyframe;
        return;
      }
      // lag = wall time elapsed − media time elapsed (positive when behind real time)
      const lag = now - v.firstTagWall - (t.timestamp - v.firstTagTs!);
      v.lastLagMs = lag;
      if (lag > v.maxLagMs) v.maxLagMs = lag;
    });
  });
  sock.on('error', (err) => {
    v.failed ??= err.message;
  });
  sock.on('close', () => {
    v.ended = true;
  });
}

function percentile(xs: number[], p: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! * 10) / 10;
}

const t0 = performance.now();
const slowCount = Math.round(viewers * slowFraction);
let started = 0;
const rampTimer = setInterval(() => {
  const target =
    rampMs > 0 ? Math.min(viewers, Math.ceil(((performance.now() - t0) / rampMs) * viewers)) : viewers;
  while (started < target) startViewer(started++ < slowCount);
  if (started >= viewers) clearInterval(rampTimer);
}, 20);

setTimeout(() => {
  const now = performance.now();
  const healthy = stats.filter((v) => !v.slow);
  const failed = healthy.filter((v) => v.failed || (v.ended && !v.failed));
  const stalled = healthy.filter((v) => !v.failed && (now - v.lastDataAt > stallMs || v.lastLagMs > stallMs));
  const elapsed = (now - t0) / 1000;
  const bytes = stats.reduce((a, v) => a + v.bytes, 0);
  const result = {
    viewers,
    slowViewers: slowCount,
    connected: stats.filter((v) => v.connectMs !== undefined).length,
    failed: failed.length,
    failures: [...new Set(failed.map((v) => v.failed ?? 'closed by server'))].slice(0, 5),
    stalled: stalled.length,
    startedOnKeyframe: healthy.filter((v) => v.firstVideoWasKeyframe).length,
    slowDropped: stats.filter((v) => v.slow && v.ended).length,
    connectMsP50: percentile(
      healthy.flatMap((v) => (v.connectMs === undefined ? [] : [v.connectMs])),
      50,
    ),
    ttfkMsP50: percentile(
      healthy.flatMap((v) => (v.firstKeyframeMs === undefined ? [] : [v.firstKeyframeMs])),
      50,
    ),
    ttfkMsP95: percentile(
      healthy.flatMap((v) => (v.firstKeyframeMs === undefined ? [] : [v.firstKeyframeMs])),
      95,
    ),
    lagMsP50: percentile(
      healthy.map((v) => v.lastLagMs),
      50,
    ),
    lagMsP99: percentile(
      healthy.map((v) => v.lastLagMs),
      99,
    ),
    lagMsMax: Math.round(Math.max(0, ...healthy.map((v) => v.maxLagMs))),
    throughputMbps: Math.round(((bytes * 8) / elapsed / 1e6) * 10) / 10,
  };
  console.log(JSON.stringify(result));
  for (const s of sockets) s.destroy();
  clearInterval(rampTimer);
  setTimeout(() => process.exit(0), 200).unref();
}, rampMs + durationMs);
