/**
 * HLS viewer swarm: N players from one process, each with its own keep-alive connection (an undici
 * Client, driven through its callback dispatch API so the client stays cheap), polling the live
 * media playlist every target duration as a player does and fetching every new segment once, in
 * order. A viewer starts like hls.js (liveSyncDurationCount 3): with the segment 3 from the live
 * edge. Measures: playlist and segment fetch time, time to first segment, how long after a
 * segment's last frame the viewer has it (segment age), how far behind live each viewer is
 * (now − end of the newest segment it holds, sampled every 250 ms and averaged per viewer),
 * segments missed (slid out of the window unfetched), errors. Prints one JSON line. Bounded:
 * every viewer stops after --duration seconds.
 *
 *   node bench/hls-swarm.ts --url http://127.0.0.1:8080/live/bench.ts.m3u8 --viewers 1000 --ramp 5 --duration 20
 */
import { Client } from 'undici';
import { percentile, rampUp, swarmArgs } from './viewer-stats.ts';

const { values, url, viewers, rampMs, durationMs, stallMs } = swarmArgs(
  'node bench/hls-swarm.ts --url http://HOST:PORT/app/name.ts.m3u8 [--viewers N] [--ramp S] [--duration S]',
  { 'sync-count': { type: 'string', default: '3' } },
);
const syncCount = Number(values['sync-count']);

interface Segment {
  seq: number;
  uri: string;
  /** Wall-clock time of its first frame (PROGRAM-DATE-TIME), ms. */
  start: number;
  durationMs: number;
}

interface Playlist {
  targetMs: number;
  segments: Segment[];
  ended: boolean;
}

function parsePlaylist(text: string): Playlist {
  let targetMs = 1000;
  let seq = 0;
  let pdt = 0;
  let dur = 0;
  let ended = false;
  const segments: Segment[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-TARGETDURATION:')) targetMs = Number(line.slice(22)) * 1000;
    else if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) seq = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25));
    else if (line.startsWith('#EXTINF:')) dur = Number.parseFloat(line.slice(8)) * 1000;
    else if (line.startsWith('#EXT-X-ENDLIST')) ended = true;
    else if (line && !line.startsWith('#')) {
      segments.push({ seq: seq++, uri: line, start: pdt, durationMs: dur });
      pdt += dur;
    }
  }
  return { targetMs, segments, ended };
}

interface HlsViewer {
  startedAt: number;
  playlists: number;
  segments: number;
  bytes: number;
  errors: number;
  lastError?: string;
  firstSegmentMs?: number;
  /** Media sequence and end (wall clock) of the newest segment downloaded. */
  lastSeq: number;
  lastEnd: number;
  missed: number;
  /** Sum and count of behind-live samples, and the worst one. */
  behindSum: number;
  behindN: number;
  behindMax: number;
  /** Past the start-up fetch (the first playlist's segments). */
  steady: boolean;
}

const all: HlsViewer[] = [];
const clients: Client[] = [];
const playlistMs: number[] = [];
const segmentMs: number[] = [];
const segmentAgeMs: number[] = [];
let stopping = false;
/** EXT-X-TARGETDURATION as last seen. */
let targetDurationMs = 1000;
const t0 = performance.now();
const deadline = t0 + rampMs + durationMs;

/**
 * One GET on the viewer's own connection through undici's dispatch API: body chunks are counted
 * as they arrive (no Readable stream, no async iterator), the playlist is kept as text.
 */
function get(client: Client, path: string): Promise<{ status: number; bytes: number; text?: string }> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let bytes = 0;
    const parts: Buffer[] = [];
    const keepText = path.includes('.m3u8');
    client.dispatch(
      { path, method: 'GET', headersTimeout: 10_000, bodyTimeout: 10_000 },
      // The callback handler API (Client.dispatch takes it directly).
      {
        onConnect() {},
        onHeaders(statusCode) {
          status = statusCode;
          return true;
        },
        onData(chunk) {
          bytes += chunk.length;
          if (keepText) parts.push(chunk);
          return true;
        },
        onComplete() {
          resolve(
            keepText && status === 200
              ? { status, bytes, text: Buffer.concat(parts).toString() }
              : { status, bytes },
          );
        },
        onError(err) {
          reject(err);
        },
      },
    );
  });
}

async function runViewer(): Promise<void> {
  const v: HlsViewer = {
    startedAt: performance.now(),
    playlists: 0,
    segments: 0,
    bytes: 0,
    errors: 0,
    lastSeq: -1,
    lastEnd: 0,
    missed: 0,
    behindSum: 0,
    behindN: 0,
    behindMax: 0,
    steady: false,
  };
  all.push(v);
  const client = new Client(url.origin, { keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });
  clients.push(client);
  const base = url.pathname.slice(0, url.pathname.lastIndexOf('/') + 1);
  const error = (what: string) => {
    v.errors++;
    v.lastError = what;
  };
  while (!stopping && performance.now() < deadline) {
    const pollAt = performance.now();
    let targetMs = 1000;
    try {
      const p0 = performance.now();
      const pl = await get(client, url.pathname + url.search);
      if (pl.status !== 200 || pl.text === undefined) error(`playlist HTTP ${pl.status}`);
      else {
        playlistMs.push(performance.now() - p0);
        v.playlists++;
        const playlist = parsePlaylist(pl.text);
        targetMs = playlist.targetMs;
        targetDurationMs = targetMs;
        const segs = playlist.segments;
        let todo: Segment[];
        if (v.lastSeq < 0) todo = segs.slice(Math.max(0, segs.length - syncCount));
        else {
          const first = segs[0];
          if (first && first.seq > v.lastSeq + 1) v.missed += first.seq - v.lastSeq - 1;
          todo = segs.filter((s) => s.seq > v.lastSeq);
        }
        const startup = v.lastSeq < 0;
        for (const s of todo) {
          if (stopping) break;
          const s0 = performance.now();
          const r = await get(client, base + s.uri);
          if (r.status !== 200) {
            error(`segment HTTP ${r.status}`);
            break;
          }
          const done = performance.now();
          segmentMs.push(done - s0);
          v.segments++;
          v.bytes += r.bytes;
          v.lastSeq = s.seq;
          v.lastEnd = s.start + s.durationMs;
          v.firstSegmentMs ??= done - v.startedAt;
          if (!startup) segmentAgeMs.push(Date.now() - v.lastEnd);
        }
        if (startup && v.lastSeq >= 0) v.steady = true;
      }
    } catch (err) {
      if (!stopping) error((err as Error).message);
    }
    // Next poll one target duration after this one started (sooner never; a slow round goes at once).
    const wait = pollAt + targetMs - performance.now();
    const left = Math.min(wait, deadline - performance.now());
    if (left > 0) await new Promise((r) => setTimeout(r, left));
  }
}

// Behind live = now − the end of the newest segment a viewer has downloaded, sampled every 250 ms.
const sampler = setInterval(() => {
  const now = Date.now();
  for (const v of all) {
    if (!v.steady) continue;
    const b = now - v.lastEnd;
    v.behindSum += b;
    v.behindN++;
    if (b > v.behindMax) v.behindMax = b;
  }
}, 250);

const rampTimer = rampUp(viewers, rampMs, t0, () => void runViewer());

setTimeout(() => {
  stopping = true;
  const nowWall = Date.now();
  const elapsed = (performance.now() - t0) / 1000;
  const sampled = all.filter((v) => v.behindN > 0);
  const behindAvg = sampled.map((v) => v.behindSum / v.behindN);
  // A poller is up to one target duration (+ packaging and fetch) behind the newest segment's end.
  const stalled = all.filter(
    (v) => v.lastSeq >= 0 && nowWall - v.lastEnd > stallMs + targetDurationMs,
  ).length;
  const withErrors = all.filter((v) => v.errors > 0);
  const bytes = all.reduce((a, v) => a + v.bytes, 0);
  const requests = all.reduce((a, v) => a + v.playlists + v.segments + v.errors, 0);
  console.log(
    JSON.stringify({
      viewers,
      connected: all.filter((v) => v.playlists > 0).length,
      gotSegments: all.filter((v) => v.segments > 0).length,
      failed: all.filter((v) => v.segments === 0).length,
      stalled,
      errors: all.reduce((a, v) => a + v.errors, 0),
      viewersWithErrors: withErrors.length,
      failures: [...new Set(withErrors.map((v) => v.lastError))].slice(0, 5),
      missedSegments: all.reduce((a, v) => a + v.missed, 0),
      segmentsFetched: all.reduce((a, v) => a + v.segments, 0),
      requestsPerS: Math.round(requests / elapsed),
      firstSegmentMsP50: percentile(
        all.flatMap((v) => (v.firstSegmentMs === undefined ? [] : [v.firstSegmentMs])),
        50,
      ),
      playlistMsP50: percentile(playlistMs, 50),
      playlistMsP99: percentile(playlistMs, 99),
      segmentMsP50: percentile(segmentMs, 50),
      segmentMsP99: percentile(segmentMs, 99),
      segmentMsMax: Math.round(segmentMs.reduce((a, b) => Math.max(a, b), 0)),
      segmentAgeMsP50: percentile(segmentAgeMs, 50),
      segmentAgeMsP99: percentile(segmentAgeMs, 99),
      // of each viewer's average over the run, and the worst sample of any viewer
      behindLiveMsP50: percentile(behindAvg, 50),
      behindLiveMsP99: percentile(behindAvg, 99),
      behindLiveMsMax: Math.round(sampled.reduce((a, v) => Math.max(a, v.behindMax), 0)),
      throughputMbps: Math.round(((bytes * 8) / elapsed / 1e6) * 10) / 10,
    }),
  );
  clearInterval(rampTimer);
  clearInterval(sampler);
  for (const c of clients) c.destroy().catch(() => {});
  setTimeout(() => process.exit(0), 200).unref();
}, rampMs + durationMs);
