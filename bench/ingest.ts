/**
 * Ingest benchmark: starts relaycast (all-in-one, so every stream is also packaged for HLS), runs
 * the RTMP publisher swarm (bench/publish-swarm.ts: N publishers of the cached 2.65 Mbit/s stream
 * from one process, real-time paced) in a separate process, samples the server's CPU and RSS over
 * the steady state, and asks the admin API (GET /api/v1/streams) near the end whether every
 * stream is live and at what ingest rate. Prints one JSON line.
 *
 *   node bench/ingest.ts --publishers 200 --ramp 10 --duration 20
 */
import { once } from 'node:events';
import { benchArgs } from './args.ts';
import {
  killChildren,
  machine,
  sampleProcess,
  startBenchServer,
  tcpCounters,
  testStream,
  withFdLimit,
} from './lib.ts';
import { percentile } from './viewer-stats.ts';

process.on('SIGINT', () => process.exit(130));

const { values } = benchArgs(
  import.meta.filename,
  `node bench/ingest.ts --publishers 200 --ramp 10 --duration 20

Ingest benchmark: starts relaycast (all-in-one, so every stream is also packaged for HLS), runs
the RTMP publisher swarm (bench/publish-swarm.ts: N publishers of the cached 2.65 Mbit/s stream
from one process, real-time paced) in a separate process, samples the server's CPU and RSS over
the steady state, and asks the admin API (GET /api/v1/streams) near the end whether every
stream is live and at what ingest rate. Prints one JSON line.`,
  {
    publishers: { type: 'string', default: '50' },
    duration: { type: 'string', default: '20' },
    ramp: { type: 'string', default: '5' },
  },
);
const publishers = Number(values.publishers);
const durationS = Number(values.duration);
const rampS = Number(values.ramp);

const file = testStream(2650);
const { server, rtmp, admin } = await startBenchServer();
const idle = await sampleProcess(server.pid!, 2000);

const tcp0 = tcpCounters();
const swarm = withFdLimit([
  process.execPath,
  'bench/publish-swarm.ts',
  '--url',
  `rtmp://127.0.0.1:${rtmp}/live`,
  '--publishers',
  String(publishers),
  '--ramp',
  String(rampS),
  '--duration',
  String(durationS),
  '--file',
  file,
]);
let out = '';
swarm.stdout!.setEncoding('utf8').on('data', (d: string) => {
  out += d;
});
// Steady state: from 3 s after the ramp (the stream stats sampler needs two 2 s ticks) to 2 s
// before the swarm stops; the API is asked at the end of that window.
await new Promise((r) => setTimeout(r, (rampS + 3) * 1000));
const windowMs = Math.max(2000, (durationS - 5) * 1000);
const [sample, client] = await Promise.all([
  sampleProcess(server.pid!, windowMs),
  sampleProcess(swarm.pid!, windowMs),
]);
interface StreamInfo {
  name: string;
  live: boolean;
  ingestKbps: number;
  fps: number;
}
let streams: StreamInfo[] = [];
try {
  const res = await fetch(`http://127.0.0.1:${admin}/api/v1/streams`, {
    signal: AbortSignal.timeout(10_000),
  });
  streams = ((await res.json()) as { streams: StreamInfo[] }).streams;
} catch (err) {
  console.error(`GET /api/v1/streams failed: ${(err as Error).message}`);
}
await Promise.race([once(swarm, 'exit'), new Promise((r) => setTimeout(r, 30_000))]);
const tcp1 = tcpCounters();
const result = JSON.parse(out.trim().split('\n').pop() || '{}') as Record<string, unknown>;
const ours = streams.filter((s) => /^pub\d+$/.test(s.name));
const live = ours.filter((s) => s.live);
const kbps = live.map((s) => s.ingestKbps);
const fileKbps = Number(result.fileKbps ?? 2650);
console.log(
  JSON.stringify({
    bench: 'ingest-rtmp',
    publishers,
    durationS,
    ...result,
    api: {
      streamsListed: ours.length,
      live: live.length,
      // within ±25 % of the file's average rate (the API's rate is over a 2 s window of a CBR stream)
      atRate: kbps.filter((k) => k >= fileKbps * 0.75 && k <= fileKbps * 1.25).length,
      ingestKbpsMin: kbps.length ? Math.min(...kbps) : null,
      ingestKbpsP50: percentile(kbps, 50),
      ingestKbpsMax: kbps.length ? Math.max(...kbps) : null,
      totalIngestMbps: Math.round(kbps.reduce((a, b) => a + b, 0) / 100) / 10,
      fpsMin: live.length ? Math.min(...live.map((s) => s.fps)) : null,
    },
    server: {
      idleCpuPercentOfCore: idle.cpuPercentOfCore,
      idleRssMb: idle.rssMb,
      ...sample,
      cpuPercentPer100Publishers: Math.round((sample.cpuPercentOfCore / publishers) * 100 * 10) / 10,
    },
    swarmCpuPercentOfCore: client.cpuPercentOfCore,
    listenOverflows: tcp1.listenOverflows - tcp0.listenOverflows,
    syncookiesFailed: tcp1.syncookiesFailed - tcp0.syncookiesFailed,
    machine: machine(),
  }),
);
killChildren();
process.exit(0);
