/**
 * RTMP viewer swarm: N concurrent RTMP players from one process (handshake, connect, createStream,
 * play), each reassembling messages with the repo's ChunkReader (media/rtmp/client.ts). Measures the
 * same figures as the HTTP-FLV swarm (bench/swarm.ts): connect time, time to NetStream.Play.Start,
 * time to first keyframe, lag behind real time, failed/stalled. Prints one JSON line. Bounded: every
 * viewer stops after --duration seconds.
 *
 *   node bench/rtmp-swarm.ts --url rtmp://127.0.0.1:1935/live/bench --viewers 1000 --ramp 5 --duration 20
 */

import { RtmpClient } from '../media/rtmp/client.ts';
import { isVideoKeyframe, isVideoSequenceHeader } from '../media/tag.ts';
import { newViewer, onVideoFrame, rampUp, summarise, swarmArgs, type ViewerStats } from './viewer-stats.ts';

const { url, viewers, rampMs, durationMs, stallMs } = swarmArgs(
  'node bench/rtmp-swarm.ts --url rtmp://HOST:PORT/app/name [--viewers N] [--ramp S] [--duration S]',
  {},
);
const slash = url.pathname.lastIndexOf('/');
const app = url.pathname.slice(1, slash);
const name = url.pathname.slice(slash + 1) + url.search;

const stats: ViewerStats[] = [];
const clients: RtmpClient[] = [];
let stopping = false;

async function startViewer(): Promise<void> {
  const v = newViewer(false);
  stats.push(v);
  let client: RtmpClient;
  try {
    client = await RtmpClient.open(url.hostname, Number(url.port || 1935), {
      onConnect: () => {
        v.connectMs = performance.now() - v.startedAt;
      },
    });
    clients.push(client);
    client.once('close', (reason) => {
      if (stopping) return;
      v.ended = true;
      v.failed ??= reason;
    });
    client.onMedia = (msg) => {
      const now = performance.now();
      v.lastDataAt = now;
      v.bytes = client.bytesIn;
      if (msg.typeId === 9 && !isVideoSequenceHeader(msg.payload))
        onVideoFrame(v, now, msg.timestamp, isVideoKeyframe(msg.payload));
    };
    await client.connect(app, `rtmp://${url.host}/${app}`);
    const sid = await client.createStream();
    await client.play(sid, name);
    v.playStartMs = performance.now() - v.startedAt;
  } catch (err) {
    if (!stopping) {
      v.failed ??= (err as Error).message;
      v.ended = true;
    }
  }
}

const t0 = performance.now();
const rampTimer = rampUp(viewers, rampMs, t0, () => void startViewer());

setTimeout(() => {
  const result = summarise(stats, { viewers, slowCount: 0, stallMs, t0, now: performance.now() });
  console.log(JSON.stringify(result));
  stopping = true;
  for (const c of clients) c.close();
  clearInterval(rampTimer);
  setTimeout(() => process.exit(0), 200).unref();
}, rampMs + durationMs);
