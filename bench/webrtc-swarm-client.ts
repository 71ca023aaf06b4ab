/**
 * One process of WHEP viewers for bench/webrtc-swarm.ts: each is a werift RTCPeerConnection in
 * Node with recvonly video (H.264) and audio (Opus) transceivers, one POST of its offer and the
 * answer applied, exactly what a browser does minus decoding. Counts RTP per viewer (werift has
 * already done ICE, DTLS and SRTP decryption, and sends receiver reports, so the server sees a
 * live viewer). Prints one JSON line when sent SIGUSR2 (bench/webrtc-swarm.ts does, at the end of
 * its steady window) or at the latest after --ramp + --duration seconds, then every viewer
 * DELETEs its session and the process exits.
 *
 *   node bench/webrtc-swarm-client.ts --url http://127.0.0.1:8080/live/x/whep --viewers 50 --ramp 10 --duration 30
 */
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { srtpSessionsOf, useKeyObjects } from '../edge/webrtc/srtp-keys.ts';
import { benchArgs } from './args.ts';

const { values } = benchArgs(
  import.meta.filename,
  `node bench/webrtc-swarm-client.ts --url http://HOST:PORT/app/name/whep [--viewers N] [--ramp S] [--duration S]

One process of WHEP viewers (werift in Node, no decoding) for bench/webrtc-swarm.ts. Prints one
JSON line with per-viewer setup times (POST to first video RTP) and how many viewers received
video and audio RTP in the last --recent seconds, on SIGUSR2 or after --ramp + --duration s.`,
  {
    url: { type: 'string' },
    viewers: { type: 'string', default: '50' },
    ramp: { type: 'string', default: '10' },
    duration: { type: 'string', default: '30' },
    recent: { type: 'string', default: '10' },
  },
);
if (!values.url) {
  console.error('webrtc-swarm-client.ts: --url is required; see --help');
  process.exit(2);
}
const url = values.url;
const viewers = Number(values.viewers);
const rampMs = Number(values.ramp) * 1000;
const durationMs = Number(values.duration) * 1000;
const recentMs = Number(values.recent) * 1000;

interface Viewer {
  startedAt: number;
  answerMs?: number;
  setupMs?: number;
  videoPackets: number;
  audioPackets: number;
  videoBytes: number;
  lastVideoAt: number;
  lastAudioAt: number;
  failed?: string;
  /** the peer connection's last connectionState */
  state?: string;
  pc?: RTCPeerConnection;
  location?: string;
}

const list: Viewer[] = [];

async function startViewer(): Promise<void> {
  const v: Viewer = {
    startedAt: performance.now(),
    videoPackets: 0,
    audioPackets: 0,
    videoBytes: 0,
    lastVideoAt: Number.NEGATIVE_INFINITY,
    lastAudioAt: Number.NEGATIVE_INFINITY,
  };
  list.push(v);
  try {
    const pc = new RTCPeerConnection({
      iceServers: [], // loopback: no STUN server to ask
      iceUseIpv6: false,
      iceInterfaceAddresses: { udp4: '127.0.0.1' },
      bundlePolicy: 'max-bundle',
      codecs: {
        video: [
          new RTCRtpCodecParameters({
            mimeType: 'video/H264',
            clockRate: 90_000,
            rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
            parameters: 'packetization-mode=1;profile-level-id=42e01f;level-asymmetry-allowed=1',
          }),
        ],
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48_000, channels: 2 })],
      },
    });
    v.pc = pc;
    pc.connectionStateChange.subscribe((state) => {
      v.state = state;
      // the same per-packet saving as the server's (edge/webrtc/srtp-keys.ts), for decryption:
      // the clients share the box with the server, so what they cost is taken from it
      if (state === 'connected') useKeyObjects(srtpSessionsOf(pc));
    });
    for (const kind of ['video', 'audio'] as const) {
      const t = pc.addTransceiver(kind, { direction: 'recvonly' });
      t.onTrack.subscribe((track) => {
        track.onReceiveRtp.subscribe((rtp) => {
          const now = performance.now();
          if (kind === 'video') {
            v.setupMs ??= now - v.startedAt;
            v.videoPackets++;
            v.videoBytes += rtp.payload.length;
            v.lastVideoAt = now;
          } else {
            v.audioPackets++;
            v.lastAudioAt = now;
          }
        });
      });
    }
    await pc.setLocalDescription(await pc.createOffer());
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: pc.localDescription!.sdp,
      signal: AbortSignal.timeout(20_000),
    });
    const body = await res.text();
    if (res.status !== 201) throw new Error(`WHEP POST answered ${res.status}: ${body.slice(0, 120)}`);
    v.answerMs = performance.now() - v.startedAt;
    v.location = new URL(res.headers.get('location') ?? '', url).href;
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
  } catch (err) {
    v.failed = (err as Error).message;
  }
}

const t0 = performance.now();
let started = 0;
const rampTimer = setInterval(
  () => {
    const due =
      rampMs > 0 ? Math.min(viewers, Math.ceil(((performance.now() - t0) / rampMs) * viewers)) : viewers;
    while (started < due) {
      started++;
      void startViewer();
    }
    if (started >= viewers) clearInterval(rampTimer);
  },
  rampMs > 0 ? Math.max(10, rampMs / viewers) : 10,
);
let reported = false;
async function report(): Promise<void> {
  if (reported) return;
  reported = true;
  clearInterval(rampTimer);
  const recentFrom = performance.now() - recentMs;
  const setup = list.flatMap((v) => (v.setupMs === undefined ? [] : [Math.round(v.setupMs)]));
  const answer = list.flatMap((v) => (v.answerMs === undefined ? [] : [Math.round(v.answerMs)]));
  const failures: Record<string, number> = {};
  for (const v of list) if (v.failed) failures[v.failed] = (failures[v.failed] ?? 0) + 1;
  const states: Record<string, number> = {};
  for (const v of list) states[v.state ?? 'new'] = (states[v.state ?? 'new'] ?? 0) + 1;
  console.log(
    JSON.stringify({
      viewers: list.length,
      answered: answer.length,
      withVideo: setup.length,
      // viewers that got RTP in the last --recent seconds
      recentVideo: list.filter((v) => v.lastVideoAt >= recentFrom).length,
      recentAudio: list.filter((v) => v.lastAudioAt >= recentFrom).length,
      recentS: recentMs / 1000,
      setupMs: setup,
      answerMs: answer,
      videoPackets: list.reduce((a, v) => a + v.videoPackets, 0),
      audioPackets: list.reduce((a, v) => a + v.audioPackets, 0),
      videoBytes: list.reduce((a, v) => a + v.videoBytes, 0),
      failures,
      states,
    }),
  );
  // leave politely (bounded): DELETE each session, close each peer connection
  await Promise.race([
    Promise.allSettled(
      list.map(async (v) => {
        if (v.location)
          await fetch(v.location, { method: 'DELETE', signal: AbortSignal.timeout(3000) }).catch(() => {});
        await v.pc?.close().catch(() => {});
      }),
    ),
    new Promise((r) => setTimeout(r, 5000)),
  ]);
  process.exit(0);
}
process.on('SIGUSR2', () => void report());
setTimeout(() => void report(), rampMs + durationMs);
