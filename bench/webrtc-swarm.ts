/**
 * WHEP fan-out: --viewers concurrent WebRTC viewers of one stream on one node (the all-in-one, or
 * the edge of redis + origin + edge with --via edge). The viewers are, by default, the C swarm
 * bench/whep-swarm.c (POST, ICE, DTLS-SRTP with OpenSSL, SRTP counted from the clear RTP header:
 * a few % of a core for 200 viewers); with --client werift, werift peer connections in Node
 * (bench/webrtc-swarm-client.ts, which decrypt every packet and cost as much as the server),
 * spread over --procs child processes so their cost shows apart from the server's. The stream is
 * a cached 854x480 H.264 (no B-frames, 1 s GOP) + AAC file at ~1 Mbit/s published in real time. Samples the server's CPU and RSS from /proc over the steady
 * window (after the ramp and a settling time), and the clients' CPU over the same window. Prints
 * one JSON line.
 *
 *   node bench/webrtc-swarm.ts [--viewers 200] [--client c|werift] [--srtp PROFILES] [--procs 4] [--ramp 10]
 *     [--duration 30] [--via all|edge] [--cpu-prof DIR]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { benchArgs } from './args.ts';
import { children as clusterChildren } from './cluster-lib.ts';
import {
  buildC,
  CACHE,
  killChildren,
  machine,
  procTimes,
  procTreeTimes,
  publishLoop,
  withFdLimit,
} from './lib.ts';
import { stopAndSummarise } from './profile-summary.ts';
import { percentile, startWebrtcTarget, sumValues, udpCounters, udpDropsOf, waitLive } from './webrtc-lib.ts';

process.on('SIGINT', () => process.exit(130));

const { values } = benchArgs(
  import.meta.filename,
  `node bench/webrtc-swarm.ts [--viewers 200] [--client c|werift] [--srtp PROFILES] [--procs 4] [--ramp 10]
    [--duration 30] [--via all|edge] [--cpu-prof DIR]

WHEP fan-out: --viewers concurrent WebRTC viewers of one stream on one node (all-in-one, or the
edge of redis + origin + edge with --via edge). --client c (default): the C swarm
bench/whep-swarm.c in one process, built with gcc (needs libssl-dev): each viewer POSTs an offer,
does ICE and DTLS-SRTP (OpenSSL) like a browser, sends an SRTCP receiver report a second and counts
SRTP from the clear RTP header without decrypting. --srtp PROFILES (C client): the DTLS-SRTP
profiles it accepts, OpenSSL names, e.g. SRTP_AES128_CM_SHA1_80 (default: AEAD_AES_128_GCM first,
as Chrome). --client werift: werift peer connections in Node (bench/webrtc-swarm-client.ts:
decrypt, send receiver reports, no decoding) in --procs child processes. The stream is a cached
854x480 H.264 (no B-frames, 1 s GOP) + AAC file (~1 Mbit/s) published in real time. Reports the
server's CPU % of one core and RSS over the steady window (the server process alone, and with its
children: the Opus transcoder), the clients' CPU, viewers that received video and audio RTP in
the last 10 s, and setup time (POST to first video packet). Prints one JSON line.
--cpu-prof DIR runs the viewer node under node --cpu-prof, stops it with SIGTERM at the end and adds
its top self-time functions to the line (bench/profile-summary.ts).`,
  {
    viewers: { type: 'string', default: '200' },
    client: { type: 'string', default: 'c' },
    srtp: { type: 'string' },
    procs: { type: 'string', default: '4' },
    ramp: { type: 'string', default: '10' },
    duration: { type: 'string', default: '30' },
    via: { type: 'string', default: 'all' },
    'cpu-prof': { type: 'string' },
  },
);
const viewers = Number(values.viewers);
if (values.client !== 'c' && values.client !== 'werift') {
  console.error('webrtc-swarm.ts: --client is c or werift');
  process.exit(2);
}
const cClient = values.client === 'c';
// the C swarm is one process whatever --procs says
const procs = cClient ? 1 : Math.max(1, Math.min(viewers, Number(values.procs)));
const rampS = Number(values.ramp);
const durationS = Number(values.duration);
const via = values.via === 'edge' ? 'edge' : 'all';
const profDir = values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined;
if (durationS < 15) {
  console.error(
    'webrtc-swarm.ts: --duration must be at least 15 s (a settling time plus the last-10-s window)',
  );
  process.exit(2);
}

/** 854x480@30 baseline H.264 (WHEP refuses B-frames), 1 s GOP, ~880 kbit/s CBR + AAC 128 kbit/s. */
function webrtcStream(): string {
  mkdirSync(CACHE, { recursive: true });
  const file = join(CACHE, 'stream-webrtc-1000k.flv');
  if (existsSync(file)) return file;
  const r = spawnSync(
    'ffmpeg',
    [
      ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=854x480:rate=30'],
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '30'],
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'baseline', '-bf', '0'],
      ...['-b:v', '880k', '-maxrate', '880k', '-bufsize', '880k', '-g', '30', '-keyint_min', '30'],
      ...['-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k', '-f', 'flv', file],
    ],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) throw new Error('ffmpeg could not encode the WebRTC benchmark stream');
  return file;
}

const file = webrtcStream();
const cSwarm = cClient ? buildC('whep-swarm', ['-lssl', '-lcrypto'], 'libssl-dev') : undefined;
const target = await startWebrtcTarget(via, [], profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);
const node = target.viewerNode;
const serverPid = node.proc.pid!;
const publisher = publishLoop(file, `rtmp://127.0.0.1:${target.publishRtmp}/live/swarm`);
clusterChildren.push(publisher);
if (!(await waitLive(`http://127.0.0.1:${node.http}/live/swarm.m3u8`))) {
  console.error('webrtc-swarm.ts: the stream did not go live within 30 s');
  process.exit(1);
}

const url = `http://127.0.0.1:${node.http}/live/swarm/whep`;
const udp0 = udpCounters();
const clients = Array.from({ length: procs }, (_, i) => {
  const n = Math.floor(viewers / procs) + (i < viewers % procs ? 1 : 0);
  const p = withFdLimit([
    ...(cSwarm ? [cSwarm] : [process.execPath, 'bench/webrtc-swarm-client.ts']),
    // the runner signals the report; --duration + 30 only bounds a client left on its own
    ...['--url', url, '--viewers', String(n), '--ramp', String(rampS), '--duration', String(durationS + 30)],
    ...(cSwarm && values.srtp ? ['--srtp', values.srtp] : []),
  ]);
  let out = '';
  p.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const done = new Promise<string>((resolve) => {
    p.on('exit', () => resolve(out));
    setTimeout(() => resolve(out), (rampS + durationS + 60) * 1000).unref();
  });
  return { p, done };
});

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.admin}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').pop());
  return sum;
}

/** A counter's values by one label, e.g. session ends by reason. */
async function metricByLabel(name: string, label: string): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${node.admin}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const key = new RegExp(`${label}="([^"]*)"`).exec(line)?.[1] ?? '';
    out[key] = (out[key] ?? 0) + Number(line.split(' ').pop());
  }
  return out;
}

// steady window: from 3 s after the ramp to the end of --duration; then the clients report
const settleS = 3;
await new Promise((r) => setTimeout(r, (rampS + settleS) * 1000));
const windowMs = (durationS - settleS) * 1000;
const cpuOf = (pids: number[], tree: boolean) =>
  pids.reduce((a, pid) => a + ((tree ? procTreeTimes(pid) : procTimes(pid))?.cpuSeconds ?? 0), 0);
const clientPids = clients.map((c) => c.p.pid!);
const packets0 = await metric('relaycast_webrtc_packets_sent_total');
const a = {
  own: cpuOf([serverPid], false),
  tree: cpuOf([serverPid], true),
  clients: cpuOf(clientPids, false),
};
const t0 = performance.now();
let rssPeak = 0;
// per socket inode, sampled each second (a closed socket's count is gone)
const serverDrops = new Map<number, number>();
const clientDrops = new Map<number, number>();
const serverPorts = new Map<number, number>();
let sessionsMin = Number.POSITIVE_INFINITY;
let loopLagMax = 0;
while (performance.now() - t0 < windowMs) {
  await new Promise((r) => setTimeout(r, 1000));
  rssPeak = Math.max(rssPeak, procTimes(serverPid)?.rssBytes ?? 0);
  sessionsMin = Math.min(sessionsMin, await metric('relaycast_webrtc_sessions'));
  // prom-client resets the event-loop histogram at each scrape: this is the last second's worst
  loopLagMax = Math.max(loopLagMax, await metric('relaycast_nodejs_eventloop_lag_max_seconds'));
  udpDropsOf([serverPid], serverDrops, serverPorts);
  udpDropsOf(clientPids, clientDrops);
}
const seconds = (performance.now() - t0) / 1000;
const b = {
  own: cpuOf([serverPid], false),
  tree: cpuOf([serverPid], true),
  clients: cpuOf(clientPids, false),
};
const packetsPerS = Math.round(((await metric('relaycast_webrtc_packets_sent_total')) - packets0) / seconds);
// sessions that ended before the clients left, by reason (ice-timeout: never connected in 15 s)
const sessionEnds = await metricByLabel('relaycast_webrtc_session_ends_total', 'reason');
for (const c of clients) c.p.kill('SIGUSR2');
const udp1 = udpCounters();
const pct = (x: number) => Math.round((x / seconds) * 1000) / 10;
const serverCpu = pct(b.own - a.own);
const serverTreeCpu = pct(b.tree - a.tree);
const clientCpu = pct(b.clients - a.clients);
const rssBytes = procTimes(serverPid)?.rssBytes ?? 0;
rssPeak = Math.max(rssPeak, rssBytes);
const rssMb = Math.round(rssBytes / 1e5) / 10;

type ClientResult = {
  viewers: number;
  answered: number;
  withVideo: number;
  recentVideo: number;
  recentAudio: number;
  setupMs: number[];
  answerMs: number[];
  failures: Record<string, number>;
  states: Record<string, number>;
  // whep-swarm.c only
  srtpProfiles: Record<string, number>;
  iceMsP50: number;
  dtlsMsP50: number;
  dtlsMsMax: number;
  recentVideoKbpsMin: number;
  recentVideoKbpsP5: number;
  recentVideoKbpsP50: number;
  videoPacketsLost: number;
  videoPackets: number;
};
const results = (await Promise.all(clients.map((c) => c.done))).map(
  (out) => JSON.parse(out.trim().split('\n').pop() || '{}') as Partial<ClientResult>,
);
const sum = (k: 'viewers' | 'answered' | 'withVideo' | 'recentVideo' | 'recentAudio') =>
  results.reduce((acc, r) => acc + (r[k] ?? 0), 0);
const setup = results.flatMap((r) => r.setupMs ?? []).sort((x, y) => x - y);
const answer = results.flatMap((r) => r.answerMs ?? []).sort((x, y) => x - y);
const failures: Record<string, number> = {};
const states: Record<string, number> = {};
for (const r of results) {
  for (const [k, n] of Object.entries(r.failures ?? {})) failures[k] = (failures[k] ?? 0) + n;
  for (const [k, n] of Object.entries(r.states ?? {})) states[k] = (states[k] ?? 0) + n;
}

const profile = profDir ? await stopAndSummarise(node.proc, profDir) : undefined;

console.log(
  JSON.stringify({
    bench: 'webrtc-swarm',
    via,
    viewers,
    client: cClient ? 'whep-swarm.c' : 'werift',
    clientProcs: procs,
    rampS,
    durationS,
    streamKbps: 1010,
    answered: sum('answered'),
    withVideo: sum('withVideo'),
    // viewers that received RTP in the last 10 s of the run
    receivingVideoLast10s: sum('recentVideo'),
    receivingAudioLast10s: sum('recentAudio'),
    sessionsMinInWindow: Number.isFinite(sessionsMin) ? sessionsMin : null,
    setupMsP50: percentile(setup, 50),
    setupMsP95: percentile(setup, 95),
    setupMsMax: setup.length ? setup[setup.length - 1] : null,
    whepAnswerMsP50: percentile(answer, 50),
    whepAnswerMsP95: percentile(answer, 95),
    ...(cClient
      ? {
          // whep-swarm.c's own view: ICE and DTLS times, video kbit/s per viewer over the last 10 s,
          // and video packets missing from the sequence numbers (it sends no NACK, so none is resent)
          srtpProfiles: results[0]?.srtpProfiles,
          iceMsP50: results[0]?.iceMsP50,
          dtlsMsP50: results[0]?.dtlsMsP50,
          dtlsMsMax: results[0]?.dtlsMsMax,
          recentVideoKbpsMin: results[0]?.recentVideoKbpsMin,
          recentVideoKbpsP5: results[0]?.recentVideoKbpsP5,
          recentVideoKbpsP50: results[0]?.recentVideoKbpsP50,
          videoPackets: results[0]?.videoPackets,
          videoPacketsLost: results[0]?.videoPacketsLost,
        }
      : {}),
    failures,
    clientConnectionStates: states,
    sessionEndsBeforeLeave: sessionEnds,
    server: {
      // % of one core over the steady window, from /proc/<pid>/stat
      cpuPercentOfCore: serverCpu,
      cpuPercentWithChildren: serverTreeCpu, // + the per-stream Opus transcoder (ffmpeg)
      rssMb,
      rssPeakMb: Math.round(rssPeak / 1e5) / 10,
      rtpPacketsPerS: packetsPerS,
      eventLoopLagMaxMs: Math.round(loopLagMax * 1000),
    },
    clientCpuPercentOfCore: clientCpu,
    clientCostMoreCpuThanServer: clientCpu > serverTreeCpu,
    steadyWindowS: Math.round(seconds),
    // machine-wide, from the first viewer to the report: datagrams lost to full receive buffers
    udpRcvbufErrors: udp1.rcvbufErrors - udp0.rcvbufErrors,
    udpNoPorts: udp1.noPorts - udp0.noPorts,
    // of which on the server's sockets and the clients' (sampled in the steady window)
    udpDropsServerSockets: sumValues(serverDrops),
    udpDropsClientSockets: sumValues(clientDrops),
    // the shared WHEP port (every viewer's STUN, DTLS and RTCP comes in there)
    udpDropsServerPublicPort: [...serverDrops].reduce(
      (n, [inode, d]) => n + (serverPorts.get(inode) === target.udpPort ? d : 0),
      0,
    ),
    serverUdpSocketsWithDrops: [...serverDrops.values()].filter((d) => d > 0).length,
    machine: machine(),
    ...(profile ? { profile } : {}),
  }),
);
killChildren();
process.exit(0);
