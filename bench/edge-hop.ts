/**
 * What the origin → edge hop adds to a viewer's latency. One process publishes the cached test
 * stream over RTMP in real time (media/rtmp/client.ts, one tag when its timestamp is due) and reads
 * it back over HTTP-FLV, so send and receive share one clock: each video frame is recognised on
 * arrival by its bytes (relaycast passes them through) and its latency is receive time − send time.
 * The same run goes once through an all-in-one (one node: ingest, one merged write, the viewer)
 * and once through redis + origin + edge (ingest on the origin, the edge's pull, the edge's merged
 * write). The difference is the hop. The first --settle seconds (the cached-GOP burst) are not
 * counted. Prints one JSON line.
 *
 *   node bench/edge-hop.ts [--duration 30] [--settle 3] [--kbps 2650|1000]
 */

import { request } from 'node:http';
import { FlvDemuxer } from '../media/flv/demuxer.ts';
import { RtmpClient } from '../media/rtmp/client.ts';
import { isVideoSequenceHeader, TAG_VIDEO } from '../media/tag.ts';
import { benchArgs } from './args.ts';
import { children, startNode, startRedisServer } from './cluster-lib.ts';
import { readFlvLoop } from './flv-loop.ts';
import { killChildren, machine, testStream } from './lib.ts';
import { percentile } from './viewer-stats.ts';

const { values } = benchArgs(
  import.meta.filename,
  `node bench/edge-hop.ts [--duration 30] [--settle 3] [--kbps 2650|1000]

What the origin → edge hop adds to a viewer's latency: one process publishes the cached test
stream over RTMP in real time and reads it back over HTTP-FLV (same clock), recognising each video
frame by its bytes; latency = receive − send, through an all-in-one and through redis + origin +
edge, --duration seconds each after --settle seconds. Prints one JSON line with both and the
difference.`,
  {
    duration: { type: 'string', default: '30' },
    settle: { type: 'string', default: '3' },
    kbps: { type: 'string', default: '2650' },
  },
);
const durationMs = Number(values.duration) * 1000;
const settleMs = Number(values.settle) * 1000;

const { headers, frames, firstTs, loopMs } = readFlvLoop(
  testStream(Number(values.kbps) === 1000 ? 1000 : 2650),
);

/** A video frame's identity on the wire: its size and a few of its bytes (the file's frames differ). */
const frameKey = (d: Buffer) =>
  `${d.length}:${d.subarray(5, 21).toString('hex')}:${d.subarray(-16).toString('hex')}`;

async function measure(rtmpPort: number, viewerHttp: number, name: string) {
  const sentAt = new Map<string, number>();
  const client = await RtmpClient.open('127.0.0.1', rtmpPort);
  await client.connect('live');
  const streamId = await client.createStream();
  await client.publish(streamId, name);
  client.setChunkSize(4096);
  for (const h of headers) client.sendMedia(streamId, h.type, 0, h.data);
  const t0 = performance.now();
  let next = 0;
  let loop = 0;
  const pace = setInterval(() => {
    const now = performance.now();
    for (;;) {
      const tag = frames[next]!;
      const mediaTs = tag.timestamp - firstTs + loop * loopMs;
      if (t0 + mediaTs > now) break;
      client.sendMedia(streamId, tag.type, mediaTs + firstTs, tag.data);
      if (tag.type === TAG_VIDEO) sentAt.set(frameKey(tag.data), performance.now());
      if (++next === frames.length) {
        next = 0;
        loop++;
        sentAt.clear();
      }
    }
  }, 2);
  // wait until the viewer node has the stream, then read it
  const latencies: number[] = [];
  let unmatched = 0;
  const deadline = Date.now() + 20_000;
  let req: ReturnType<typeof request> | undefined;
  while (!req && Date.now() < deadline) {
    const status = await new Promise<number>((resolve) => {
      const r = request(`http://127.0.0.1:${viewerHttp}/live/${name}.flv`, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          resolve(res.statusCode ?? 0);
          return;
        }
        req = r;
        const demux = new FlvDemuxer();
        const from = performance.now() + settleMs;
        res.on('data', (chunk: Buffer) => {
          const now = performance.now();
          for (const t of demux.push(chunk)) {
            if (t.type !== TAG_VIDEO || isVideoSequenceHeader(t.data) || now < from) continue;
            const sent = sentAt.get(frameKey(t.data));
            if (sent === undefined) unmatched++;
            else latencies.push(now - sent);
          }
        });
        resolve(200);
      });
      r.on('error', () => resolve(0));
      r.end();
    });
    if (status !== 200) await new Promise((r) => setTimeout(r, 200));
  }
  if (!req) throw new Error(`the stream did not play from port ${viewerHttp} within 20 s`);
  await new Promise((r) => setTimeout(r, settleMs + durationMs));
  clearInterval(pace);
  (req as ReturnType<typeof request>).destroy();
  client.close();
  const q = (p: number) => percentile(latencies, p);
  return { frames: latencies.length, unmatched, p50: q(50), p95: q(95), p99: q(99), max: q(100) };
}

// the nodes' defaults (--workers auto): a viewer also passes the node's relay to its worker
const all = await startNode('all', []);
const direct = await measure(all.rtmp, all.http, 'hop');
all.proc.kill('SIGTERM');

const redis = await startRedisServer();
const cluster = ['--redis-url', redis, '--advertise-host', '127.0.0.1'];
const origin = await startNode('origin', [...cluster, '--node-id', 'hop-origin', '--http-port', '0']);
const edge = await startNode('edge', [...cluster, '--node-id', 'hop-edge', '--internal-port', '0']);
const viaEdge = await measure(origin.rtmp, edge.http, 'hop');

const diff = (a: number | null, b: number | null) =>
  a === null || b === null ? null : Math.round((b - a) * 10) / 10;
console.log(
  JSON.stringify({
    bench: 'edge-hop',
    streamKbps: Number(values.kbps),
    durationS: durationMs / 1000,
    // one viewer; each includes the serving node's merged write (--merge-write-ms, default 50)
    allInOneMs: direct,
    originEdgeMs: viaEdge,
    addedByEdgeMs: { p50: diff(direct.p50, viaEdge.p50), p99: diff(direct.p99, viaEdge.p99) },
    machine: machine(),
  }),
);
killChildren();
for (const c of children) c.kill('SIGKILL');
process.exit(0);
