/**
 * RTMP publisher swarm: N publishers from ONE process, each publishing an FLV file (by default the
 * cached 2.65 Mbit/s benchmark stream) over RTMP in real time, looped, as stream <prefix><i>. The
 * file is read once with the repo's FlvDemuxer; each publisher connects with media/rtmp/client.ts
 * (handshake, connect, releaseStream/FCPublish, createStream, publish), sends the metadata and
 * sequence headers, then every tag when its timestamp is due (one shared 5 ms pacing tick), with
 * timestamps running on across loops. Prints one JSON line. Bounded: stops after --duration.
 *
 *   node bench/publish-swarm.ts --url rtmp://127.0.0.1:1935/live --publishers 200 --ramp 10 --duration 30
 */
import { RtmpClient } from '../media/rtmp/client.ts';
import { benchArgs } from './args.ts';
import { readFlvLoop } from './flv-loop.ts';
import { testStream } from './lib.ts';
import { percentile, rampUp } from './viewer-stats.ts';

const { values } = benchArgs(
  import.meta.filename,
  `node bench/publish-swarm.ts --url rtmp://127.0.0.1:1935/live --publishers 200 --ramp 10 --duration 30

RTMP publisher swarm: N publishers from ONE process, each publishing an FLV file (by default the
cached 2.65 Mbit/s benchmark stream) over RTMP in real time, looped, as stream <prefix><i>. The
file is read once with the repo's FlvDemuxer; each publisher connects with media/rtmp/client.ts
(handshake, connect, releaseStream/FCPublish, createStream, publish), sends the metadata and
sequence headers, then every tag when its timestamp is due (one shared 5 ms pacing tick), with
timestamps running on across loops. Prints one JSON line. Bounded: stops after --duration.`,
  {
    url: { type: 'string' },
    publishers: { type: 'string', default: '10' },
    ramp: { type: 'string', default: '2' },
    duration: { type: 'string', default: '10' },
    file: { type: 'string' },
    prefix: { type: 'string', default: 'pub' },
    'chunk-size': { type: 'string', default: '4096' },
  },
);
if (!values.url) {
  console.error(
    'usage: node bench/publish-swarm.ts --url rtmp://HOST:PORT/app [--publishers N] [--ramp S] [--duration S] [--file F.flv]',
  );
  process.exit(2);
}
const url = new URL(values.url);
const app = url.pathname.replace(/^\/+|\/+$/g, '');
const publishers = Number(values.publishers);
const rampMs = Number(values.ramp) * 1000;
const durationMs = Number(values.duration) * 1000;
const chunkSize = Number(values['chunk-size']);

// The file, once: headers (metadata + sequence headers, sent once) and the frames (looped).
const file = values.file ?? testStream(2650);
const { headers, frames, firstTs, loopMs } = readFlvLoop(file);
const fileBytes = frames.reduce((a, t) => a + t.data.length, 0);
const fileKbps = Math.round((fileBytes * 8) / loopMs);

interface Pub {
  name: string;
  startedAt: number;
  connectMs?: number;
  publishStartMs?: number;
  client?: RtmpClient;
  streamId: number;
  /** Wall clock (performance.now) of media time firstTs in loop 0. */
  t0: number;
  next: number;
  loop: number;
  sent: number;
  bytes: number;
  maxBacklog: number;
  maxLateMs: number;
  failed?: string;
  live: boolean;
}

const pubs: Pub[] = [];
let stopping = false;

async function startPublisher(i: number): Promise<void> {
  const p: Pub = {
    name: `${values.prefix}${i}`,
    startedAt: performance.now(),
    streamId: 0,
    t0: 0,
    next: 0,
    loop: 0,
    sent: 0,
    bytes: 0,
    maxBacklog: 0,
    maxLateMs: 0,
    live: false,
  };
  pubs.push(p);
  try {
    const c = await RtmpClient.open(url.hostname, Number(url.port || 1935), {
      onConnect: () => {
        p.connectMs = performance.now() - p.startedAt;
      },
    });
    p.client = c;
    c.once('close', (reason) => {
      p.live = false;
      if (!stopping) p.failed ??= reason;
    });
    await c.connect(app, `rtmp://${url.host}/${app}`);
    c.announcePublish(p.name);
    p.streamId = await c.createStream();
    await c.publish(p.streamId, p.name);
    p.publishStartMs = performance.now() - p.startedAt;
    c.setChunkSize(chunkSize);
    for (const h of headers) {
      c.sendMedia(p.streamId, h.type, 0, h.data);
      p.bytes += h.data.length;
    }
    p.t0 = performance.now();
    p.live = true;
  } catch (err) {
    if (!stopping) p.failed ??= (err as Error).message;
    p.client?.close();
  }
}

/** Sends every tag that is due, for every live publisher; one socket write batch per publisher. */
function pace(): void {
  const now = performance.now();
  for (const p of pubs) {
    if (!p.live || !p.client) continue;
    const sock = p.client.socket;
    let corked = false;
    for (;;) {
      const tag = frames[p.next]!;
      const mediaTs = tag.timestamp - firstTs + p.loop * loopMs;
      const due = p.t0 + mediaTs;
      if (due > now) break;
      if (!corked) {
        sock.cork();
        corked = true;
      }
      const late = now - due;
      if (late > p.maxLateMs) p.maxLateMs = late;
      const backlog = p.client.sendMedia(p.streamId, tag.type, mediaTs + firstTs, tag.data);
      if (backlog > p.maxBacklog) p.maxBacklog = backlog;
      p.sent++;
      p.bytes += tag.data.length;
      if (++p.next === frames.length) {
        p.next = 0;
        p.loop++;
      }
    }
    if (corked) sock.uncork();
  }
}

const t0 = performance.now();
const rampTimer = rampUp(publishers, rampMs, t0, (i) => void startPublisher(i));
const paceTimer = setInterval(pace, 5);

setTimeout(() => {
  stopping = true;
  clearInterval(rampTimer);
  clearInterval(paceTimer);
  const elapsed = (performance.now() - t0) / 1000;
  const ok = pubs.filter((p) => p.publishStartMs !== undefined);
  const failed = pubs.filter((p) => p.failed);
  console.log(
    JSON.stringify({
      publishers,
      file: file.slice(file.lastIndexOf('/') + 1),
      fileKbps,
      loopMs,
      connected: pubs.filter((p) => p.connectMs !== undefined).length,
      publishing: ok.length,
      liveAtEnd: pubs.filter((p) => p.live).length,
      failed: failed.length,
      failures: [...new Set(failed.map((p) => p.failed))].slice(0, 5),
      connectMsP50: percentile(
        pubs.flatMap((p) => (p.connectMs === undefined ? [] : [p.connectMs])),
        50,
      ),
      publishStartMsP50: percentile(
        ok.map((p) => p.publishStartMs!),
        50,
      ),
      publishStartMsP95: percentile(
        ok.map((p) => p.publishStartMs!),
        95,
      ),
      // how late the swarm sent tags versus their due time (its own real-time keeping)
      sendLateMsP99: percentile(
        ok.map((p) => p.maxLateMs),
        99,
      ),
      // largest socket backlog of any publisher (the server not reading fast enough)
      maxBacklogBytes: pubs.reduce((a, p) => Math.max(a, p.maxBacklog), 0),
      tagsSent: pubs.reduce((a, p) => a + p.sent, 0),
      throughputMbps: Math.round(((pubs.reduce((a, p) => a + p.bytes, 0) * 8) / elapsed / 1e6) * 10) / 10,
    }),
  );
  for (const p of pubs) p.client?.close();
  setTimeout(() => process.exit(0), 200).unref();
}, rampMs + durationMs);
