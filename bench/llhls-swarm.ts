/**
 * LL-HLS viewer swarm: N players from one process, each as hls.js plays Low-Latency HLS: it
 * starts three parts behind the live edge, then loops on a blocking playlist reload for the hinted
 * part (`_HLS_msn`/`_HLS_part`) while fetching that part (the preload hint) in parallel, on two
 * keep-alive connections of its own, and fetches any listed part it has not got yet, in order.
 * Measures: how long after a part ends (PROGRAM-DATE-TIME + durations) the viewer has it (part
 * age), how long after the hinted part the blocking reload answers, whether every viewer got every
 * part (gaps in its sequence of parts), errors. Prints one JSON line. Bounded: every viewer stops
 * after --duration seconds.
 *
 *   node bench/llhls-swarm.ts --url http://127.0.0.1:8080/live/bench/ll.m3u8 --viewers 1000 --ramp 5 --duration 20
 */
import { Client } from 'undici';
import { validateLlPlaylist } from '../media/hls/ll-validate.ts';
import { percentile, rampUp, swarmArgs } from './viewer-stats.ts';

const { url, viewers, rampMs, durationMs } = swarmArgs(
  'node bench/llhls-swarm.ts --url http://HOST:PORT/app/name/ll.m3u8 [--viewers N] [--ramp S] [--duration S]',
  {},
);

interface PartRef {
  msn: number;
  idx: number;
  uri: string;
  /** Wall clock at the end of the part (PROGRAM-DATE-TIME + durations), ms. */
  endWall: number;
  /** Last part of its segment (the segment is complete in the playlist). */
  last: boolean;
}

/** Every part the playlist lists, in order, with its wall-clock end. */
function partsOf(text: string): {
  parts: PartRef[];
  hint: { msn: number; idx: number; uri: string } | undefined;
} {
  const { playlist } = validateLlPlaylist(text);
  const out: PartRef[] = [];
  // PROGRAM-DATE-TIME of each segment: the tags carry it for the first and after discontinuities.
  const pdts: number[] = [];
  let pdt = 0;
  let seg = -1;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25));
    else if (line.startsWith('#EXTINF:')) {
      seg++;
      pdts[seg] = pdt;
      pdt += Number.parseFloat(line.slice(8)) * 1000;
    }
  }
  pdts[seg + 1] = pdt; // the open segment
  const add = (msn: number, start: number, parts: { uri: string; duration: number }[], complete: boolean) => {
    let t = start;
    parts.forEach((p, idx) => {
      t += p.duration * 1000;
      out.push({ msn, idx, uri: p.uri, endWall: t, last: complete && idx === parts.length - 1 });
    });
  };
  playlist.segments.forEach((s, i) => {
    add(playlist.mediaSequence + i, pdts[i] ?? 0, s.parts, true);
  });
  add(
    playlist.mediaSequence + playlist.segments.length,
    pdts[playlist.segments.length] ?? 0,
    playlist.openParts,
    false,
  );
  const m = playlist.preloadHint ? /(\d+)\.(\d+)\.m4s/.exec(playlist.preloadHint) : null;
  return {
    parts: out,
    hint:
      m && playlist.preloadHint
        ? { msn: Number(m[1]), idx: Number(m[2]), uri: playlist.preloadHint }
        : undefined,
  };
}

function get(
  client: Client,
  path: string,
  keepText: boolean,
): Promise<{ status: number; bytes: number; text?: string }> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let bytes = 0;
    const chunks: Buffer[] = [];
    client.dispatch(
      { path, method: 'GET', headersTimeout: 20_000, bodyTimeout: 20_000 },
      {
        onConnect() {},
        onHeaders(statusCode) {
          status = statusCode;
          return true;
        },
        onData(chunk) {
          bytes += chunk.length;
          if (keepText) chunks.push(chunk);
          return true;
        },
        onComplete() {
          resolve(
            keepText && status === 200
              ? { status, bytes, text: Buffer.concat(chunks).toString() }
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

interface LlViewer {
  parts: number;
  bytes: number;
  gaps: number;
  errors: number;
  lastError?: string;
  firstPartMs?: number;
}

const all: LlViewer[] = [];
const clients: Client[] = [];
const partAgeMs: number[] = [];
const reloadAfterPartMs: number[] = [];
const playlistMs: number[] = [];
let stopping = false;
const t0 = performance.now();
const deadline = t0 + rampMs + durationMs;

async function runViewer(): Promise<void> {
  const startedAt = performance.now();
  const v: LlViewer = { parts: 0, bytes: 0, gaps: 0, errors: 0 };
  all.push(v);
  const opts = { keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 };
  const plClient = new Client(url.origin, opts);
  const partClient = new Client(url.origin, opts);
  clients.push(plClient, partClient);
  const dir = url.pathname.slice(0, url.pathname.lastIndexOf('/') + 1);
  const error = (what: string) => {
    v.errors++;
    v.lastError = what;
  };
  let last: PartRef | undefined;
  /** Counts a part; `listed` (the newest playlist) tells whether a segment ended where we think. */
  const got = (p: PartRef, bytes: number, listed: PartRef[]) => {
    if (last) {
      const prev = last;
      const next = p.msn === prev.msn && p.idx === prev.idx + 1;
      const nextSegment =
        p.msn === prev.msn + 1 &&
        p.idx === 0 &&
        !listed.some((x) => x.msn === prev.msn && x.idx === prev.idx + 1);
      if (!next && !nextSegment) v.gaps++;
    }
    last = p;
    v.parts++;
    v.bytes += bytes;
    v.firstPartMs ??= performance.now() - startedAt;
  };
  const after = (p: PartRef) => !last || p.msn > last.msn || (p.msn === last.msn && p.idx > last.idx);
  let text: string | undefined;
  try {
    const first = await get(plClient, url.pathname, true);
    if (first.status !== 200 || !first.text) throw new Error(`playlist HTTP ${first.status}`);
    text = first.text;
    // hls.js starts PART-HOLD-BACK (3 parts) behind the live edge.
    const { parts } = partsOf(text);
    for (const p of parts.slice(-3)) {
      const r = await get(partClient, dir + p.uri, false);
      if (r.status !== 200) throw new Error(`part HTTP ${r.status}`);
      got(p, r.bytes, parts);
    }
  } catch (err) {
    error((err as Error).message);
    return;
  }
  while (!stopping && performance.now() < deadline) {
    try {
      const { hint } = partsOf(text);
      if (!hint) break; // ended
      const p0 = performance.now();
      const [pl, part] = await Promise.all([
        get(plClient, `${url.pathname}?_HLS_msn=${hint.msn}&_HLS_part=${hint.idx}`, true).then((r) => ({
          ...r,
          at: performance.now(),
        })),
        get(partClient, dir + hint.uri, false).then((r) => ({ ...r, at: performance.now() })),
      ]);
      if (pl.status !== 200 || !pl.text) {
        error(`blocking reload HTTP ${pl.status}`);
        const again = await get(plClient, url.pathname, true);
        if (again.text) text = again.text;
        continue;
      }
      playlistMs.push(pl.at - p0);
      text = pl.text;
      const listed = partsOf(text).parts;
      if (part.status === 200) {
        reloadAfterPartMs.push(Math.max(0, pl.at - part.at));
        const ref = listed.find((p) => p.msn === hint.msn && p.idx === hint.idx);
        if (ref) {
          partAgeMs.push(Date.now() - ref.endWall);
          if (after(ref)) got(ref, part.bytes, listed);
        }
      } else if (part.status !== 404) error(`hinted part HTTP ${part.status}`);
      // anything listed we have not got yet (a part the hint skipped), in order
      for (const p of listed) {
        if (stopping || !after(p)) continue;
        const r = await get(partClient, dir + p.uri, false);
        if (r.status !== 200) {
          error(`part HTTP ${r.status}`);
          break;
        }
        got(p, r.bytes, listed);
      }
    } catch (err) {
      if (!stopping) error((err as Error).message);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

const rampTimer = rampUp(viewers, rampMs, t0, () => void runViewer());

setTimeout(() => {
  stopping = true;
  const elapsed = (performance.now() - t0) / 1000;
  const withErrors = all.filter((v) => v.errors > 0);
  const bytes = all.reduce((a, v) => a + v.bytes, 0);
  console.log(
    JSON.stringify({
      viewers,
      gotParts: all.filter((v) => v.parts > 0).length,
      partsFetched: all.reduce((a, v) => a + v.parts, 0),
      // a viewer's parts are consecutive unless it missed one
      viewersWithGaps: all.filter((v) => v.gaps > 0).length,
      gaps: all.reduce((a, v) => a + v.gaps, 0),
      errors: all.reduce((a, v) => a + v.errors, 0),
      viewersWithErrors: withErrors.length,
      failures: [...new Set(withErrors.map((v) => v.lastError))].slice(0, 5),
      firstPartMsP50: percentile(
        all.flatMap((v) => (v.firstPartMs === undefined ? [] : [v.firstPartMs])),
        50,
      ),
      blockingReloadMsP50: percentile(playlistMs, 50),
      reloadAfterPartMsP50: percentile(reloadAfterPartMs, 50),
      reloadAfterPartMsP99: percentile(reloadAfterPartMs, 99),
      partAgeMsP50: percentile(partAgeMs, 50),
      partAgeMsP99: percentile(partAgeMs, 99),
      throughputMbps: Math.round(((bytes * 8) / elapsed / 1e6) * 10) / 10,
    }),
  );
  clearInterval(rampTimer);
  for (const c of clients) c.destroy().catch(() => {});
  setTimeout(() => process.exit(0), 200).unref();
}, rampMs + durationMs);
