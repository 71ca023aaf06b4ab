/**
 * Fan-out benchmark: starts relaycast (all-in-one), publishes the cached test stream in real time,
 * runs a viewer swarm in a separate process (HTTP-FLV: bench/swarm.ts, RTMP: bench/rtmp-swarm.ts,
 * HLS: bench/hls-swarm.ts, LL-HLS: bench/llhls-swarm.ts), samples the server's (and the swarm's) CPU and RSS from /proc during
 * the steady state, and prints one JSON line.
 *
 *   node bench/run.ts --viewers 1000 --duration 20 [--protocol flv|rtmp|hls|llhls] [--kbps 2650|1000]
 *     [--slow-fraction 0.1] [--cpu-prof DIR]
 *
 * --cpu-prof DIR runs the server under `node --cpu-prof --cpu-prof-dir=DIR`, stops it with SIGTERM
 * at the end (the profile is written on exit) and adds the top self-time functions to the line.
 */
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { benchArgs } from './args.ts';
import { originForEdge } from './cluster-lib.ts';
import {
  children,
  killChildren,
  machine,
  publishLoop,
  sampleProcess,
  startBenchServer,
  tcpCounters,
  testStream,
  withFdLimit,
} from './lib.ts';
import { stopAndSummarise } from './profile-summary.ts';

process.on('SIGINT', () => process.exit(130));

const { values } = benchArgs(
  import.meta.filename,
  `node bench/run.ts --viewers 1000 --duration 20 [--protocol flv|rtmp|hls|llhls] [--kbps 2650|1000]
[--slow-fraction 0.1] [--cpu-prof DIR] [--via all|edge]

Fan-out benchmark: starts relaycast (all-in-one; with --via edge: redis-server, an origin and the
edge the viewers use, whose CPU and RSS are the ones reported), publishes the cached test stream in real time,
runs a viewer swarm in a separate process (HTTP-FLV: bench/swarm.ts, RTMP: bench/rtmp-swarm.ts,
HLS: bench/hls-swarm.ts, LL-HLS: bench/llhls-swarm.ts), samples the server's (and the swarm's) CPU and RSS from /proc during
the steady state, and prints one JSON line.`,
  {
    viewers: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '20' },
    ramp: { type: 'string', default: '5' },
    kbps: { type: 'string', default: '2650' },
    'slow-fraction': { type: 'string', default: '0' },
    protocol: { type: 'string', default: 'flv' },
    'cpu-prof': { type: 'string' },
    workers: { type: 'string', default: 'auto' }, // the server's default
    'merge-write-ms': { type: 'string', default: '50' }, // the server's default
    via: { type: 'string', default: 'all' },
  },
);
const protocol = values.protocol as 'flv' | 'rtmp' | 'hls' | 'llhls';
if (!['flv', 'rtmp', 'hls', 'llhls'].includes(protocol)) {
  console.error('--protocol is flv, rtmp, hls or llhls');
  process.exit(2);
}
const profDir = values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined;
if (profDir) mkdirSync(profDir, { recursive: true });
const viewers = Number(values.viewers);
const durationS = Number(values.duration);
const rampS = Number(values.ramp);
const kbps = Number(values.kbps) === 1000 ? 1000 : 2650;

const file = testStream(kbps);
const via = values.via === 'edge' ? 'edge' : 'all';
// --via edge: the stream is published to an origin; the edge under test pulls it.
const { origin, edgeArgs } = await originForEdge(via);
const { server, rtmp, http, admin } = await startBenchServer(
  profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
  [
    ...['--workers', String(values.workers), '--merge-write-ms', String(values['merge-write-ms'])],
    ...edgeArgs,
  ],
  via,
);
const publisher = publishLoop(file, `rtmp://127.0.0.1:${origin?.rtmp ?? rtmp}/live/bench`);
children.push(publisher);
await new Promise((r) => setTimeout(r, 3000));

const SWARMS = {
  flv: ['bench/swarm.ts', `http://127.0.0.1:${http}/live/bench.flv`],
  rtmp: ['bench/rtmp-swarm.ts', `rtmp://127.0.0.1:${rtmp}/live/bench`],
  hls: ['bench/hls-swarm.ts', `http://127.0.0.1:${http}/live/bench.ts.m3u8`],
  llhls: ['bench/llhls-swarm.ts', `http://127.0.0.1:${http}/live/bench/ll.m3u8`],
} as const;
const [script, url] = SWARMS[protocol];
const tcp0 = tcpCounters();
const swarm = withFdLimit([
  process.execPath,
  script,
  '--url',
  url,
  '--viewers',
  String(viewers),
  '--ramp',
  String(rampS),
  '--duration',
  String(durationS),
  ...(protocol === 'flv' ? ['--slow-fraction', String(values['slow-fraction'])] : []),
]);
let out = '';
swarm.stdout!.setEncoding('utf8').on('data', (d: string) => {
  out += d;
});
// steady state: after the ramp and a settling second, until just before the swarm ends
await new Promise((r) => setTimeout(r, (rampS + 2) * 1000));
// bash exec()s node, so the child's pid is the server's own (and the swarm's).
const windowMs = Math.max(2000, (durationS - 3) * 1000);
const [sample, client] = await Promise.all([
  sampleProcess(server.pid!, windowMs),
  sampleProcess(swarm.pid!, windowMs),
]);
// The swarm stops itself after ramp + duration; never wait for it much longer than that.
await Promise.race([once(swarm, 'exit'), new Promise((r) => setTimeout(r, 30_000))]);
const tcp1 = tcpCounters();
const result = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
const counter = (name: string) =>
  metrics
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
const profile = profDir ? await stopAndSummarise(server, profDir) : undefined;
console.log(
  JSON.stringify({
    bench:
      protocol === 'flv' ? 'fanout-http-flv' : protocol === 'rtmp' ? 'fanout-rtmp' : `fanout-${protocol}`,
    protocol,
    via,
    streamKbps: kbps,
    durationS,
    workers: values.workers,
    mergeWriteMs: Number(values['merge-write-ms']),
    ...result,
    server: {
      ...sample,
      cpuPercentPer1000Viewers: Math.round((sample.cpuPercentOfCore / viewers) * 1000 * 10) / 10,
    },
    swarmCpuPercentOfCore: client.cpuPercentOfCore,
    ...(protocol === 'hls' || protocol === 'llhls'
      ? {}
      : {
          serverSkips: counter('relaycast_viewer_skips_total'),
          serverDrops: counter('relaycast_viewer_drops_total'),
        }),
    // machine-wide kernel counters during the run (accept queue full → refused connections)
    listenOverflows: tcp1.listenOverflows - tcp0.listenOverflows,
    syncookiesFailed: tcp1.syncookiesFailed - tcp0.syncookiesFailed,
    ...(profile ? { profile } : {}),
    machine: machine(),
  }),
);
killChildren();
process.exit(0);
