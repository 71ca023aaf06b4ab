/**
 * Viewer swarm: N concurrent HTTP-FLV viewers from one process. Measures connect time, time to
 * first keyframe, how far each viewer falls behind real time, and throughput. Prints one JSON
 * line. Bounded: every viewer stops after --duration seconds.
 *
 *   node bench/swarm.ts --url http://127.0.0.1:8080/live/bench.flv --viewers 1000 --ramp 5 --duration 20
 */
import { connect, type Socket } from 'node:net';
import { FlvScanner } from './flv-scan.ts';
import { newViewer, onVideoFrame, rampUp, summarise, swarmArgs, type ViewerStats } from './viewer-stats.ts';

const { values, url, viewers, rampMs, durationMs, stallMs } = swarmArgs(
  'node bench/swarm.ts --url http://HOST:PORT/app/name.flv [--viewers N] [--ramp S] [--duration S]',
  { 'slow-fraction': { type: 'string', default: '0' } },
);
const slowFraction = Number(values['slow-fraction']);

const stats: ViewerStats[] = [];
const sockets: Socket[] = [];

function startViewer(slow: boolean): void {
  const v = newViewer(slow);
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
      v.playStartMs = now - v.startedAt;
      body = Buffer.from(headerBuf.slice(end + 4), 'latin1');
    }
    v.bytes += body.length;
    scanner.push(body, (t) => {
      if (t.type === 9 && !t.config) onVideoFrame(v, now, t.timestamp, t.keyframe);
    });
  });
  sock.on('error', (err) => {
    v.failed ??= err.message;
  });
  sock.on('close', () => {
    v.ended = true;
  });
}

const t0 = performance.now();
const slowCount = Math.round(viewers * slowFraction);
const rampTimer = rampUp(viewers, rampMs, t0, (i) => startViewer(i < slowCount));

setTimeout(() => {
  const result = summarise(stats, { viewers, slowCount, stallMs, t0, now: performance.now() });
  console.log(JSON.stringify(result));
  for (const s of sockets) s.destroy();
  clearInterval(rampTimer);
  setTimeout(() => process.exit(0), 200).unref();
}, rampMs + durationMs);
