/**
 * Channel-source ingest benchmark (TV head-end): one all-in-one receives N MPEG-TS channels over
 * UDP (unicast on loopback) at a constant bitrate each, sent by bench/udp-send.c (built here with
 * the system's cc; it costs a few % of a core, see its header). Every channel is demuxed, put in
 * the hub and packaged for HLS, as in production. Over the steady window it samples the server's
 * CPU and RSS and reads GET /api/v1/sources before and after: datagrams received against sent
 * (loss), continuity-counter errors, input bitrate. Prints one JSON line.
 *
 *   node bench/sources.ts [--channels 50] [--kbps 8000] [--duration 20]
 *
 * The test file (1280x720 H.264 + AAC, CBR TS at --kbps) is encoded once with ffmpeg and cached.
 * The sender loops it, so each channel shows a timestamp jump and one continuity error per PID
 * (PAT, PMT, video, audio) per loop of the 20 s file; `ccErrorsFromLooping` is that expectation.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs } from './args.ts';
import { CACHE, killChildren, machine, sampleProcess, startBenchServer } from './lib.ts';

process.on('SIGINT', () => process.exit(130));

const { values } = benchArgs(
  import.meta.filename,
  `node bench/sources.ts [--channels 50] [--kbps 8000] [--duration 20]

Channel-source ingest: N MPEG-TS channels over UDP into one all-in-one; CPU, RSS, loss and
continuity errors. Prints one JSON line.`,
  {
    channels: { type: 'string', default: '50' },
    kbps: { type: 'string', default: '8000' },
    duration: { type: 'string', default: '20' },
  },
);
const channels = Number(values.channels);
const kbps = Number(values.kbps);
const durationS = Number(values.duration);
const FILE_SECONDS = 20;

function tsFile(): string {
  mkdirSync(CACHE, { recursive: true });
  const file = join(CACHE, `tv-${kbps}k.ts`);
  if (existsSync(file)) return file;
  const video = `${Math.round(kbps * 0.92) - 128}k`;
  const r = spawnSync(
    'ffmpeg',
    [
      ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25'],
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(FILE_SECONDS)],
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-pix_fmt', 'yuv420p'],
      ...[
        '-b:v',
        video,
        '-minrate',
        video,
        '-maxrate',
        video,
        '-bufsize',
        video,
        '-x264-params',
        'nal-hrd=cbr',
      ],
      ...['-c:a', 'aac', '-b:a', '128k', '-f', 'mpegts', '-muxrate', `${kbps}k`, file],
    ],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) throw new Error('ffmpeg could not encode the test file');
  return file;
}

function sender(): string {
  const bin = join(CACHE, 'udp-send');
  const r = spawnSync('cc', ['-O2', '-o', bin, join(import.meta.dirname, 'udp-send.c')], {
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error('cannot build bench/udp-send.c: install a C compiler (gcc)');
  return bin;
}

interface SourceInfo {
  name: string;
  state: string;
  datagrams: number;
  ccErrors: number;
  bitrateKbps: number;
}

const file = tsFile();
const bin = sender();
const basePort = 40_000 + Math.floor(Math.random() * 20_000);
const config = join(CACHE, 'sources-bench.yaml');
writeFileSync(
  config,
  `sources:\n${Array.from({ length: channels }, (_, i) => `  - { name: ch${i}, url: "udp://127.0.0.1:${basePort + i}" }`).join('\n')}\n`,
);
const { server, admin } = await startBenchServer([], ['--config', config]);
const sources = async (): Promise<SourceInfo[]> => {
  const res = await fetch(`http://127.0.0.1:${admin}/api/v1/sources`, {
    signal: AbortSignal.timeout(10_000),
  });
  return ((await res.json()) as { sources: SourceInfo[] }).sources;
};
const idle = await sampleProcess(server.pid!, 2000);
const send = spawn(
  bin,
  [file, '127.0.0.1', String(basePort), String(channels), String(kbps), String(durationS + 6)],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let out = '';
send.stdout.setEncoding('utf8').on('data', (d: string) => {
  out += d;
});
await new Promise((r) => setTimeout(r, 4000)); // every channel received, HLS started
const before = await sources();
const [sample, senderSample] = await Promise.all([
  sampleProcess(server.pid!, durationS * 1000),
  sampleProcess(send.pid!, durationS * 1000),
]);
const after = await sources();
await Promise.race([once(send, 'exit'), new Promise((r) => setTimeout(r, 15_000))]);
const sent = (JSON.parse(out.trim() || '{"sent":[]}') as { sent: number[]; seconds: number }).sent;
const final = await sources();

const per = after.map((a) => {
  const b = before.find((x) => x.name === a.name);
  return {
    name: a.name,
    state: a.state,
    received: final.find((x) => x.name === a.name)?.datagrams ?? a.datagrams,
    ccErrors: a.ccErrors - (b?.ccErrors ?? 0),
    kbps: a.bitrateKbps,
  };
});
const totalSent = sent.reduce((x, y) => x + y, 0);
const totalReceived = per.reduce((x, y) => x + y.received, 0);
const loops = durationS / FILE_SECONDS;
const receiving = per.filter((p) => p.state === 'receiving' && p.kbps >= kbps * 0.9);
console.log(
  JSON.stringify({
    bench: 'sources-udp',
    channels,
    kbpsPerChannel: kbps,
    durationS,
    totalMbps: Math.round((channels * kbps) / 100) / 10,
    receivingAtRate: receiving.length,
    lossPercent: totalSent ? Math.round((1 - totalReceived / totalSent) * 10000) / 100 : null,
    ccErrorsInWindow: per.reduce((x, y) => x + y.ccErrors, 0),
    ccErrorsFromLooping: Math.round(channels * loops * 4),
    server: {
      idleCpuPercentOfCore: idle.cpuPercentOfCore,
      idleRssMb: idle.rssMb,
      ...sample,
      cpuPercentPer10Channels: Math.round((sample.cpuPercentOfCore / channels) * 10 * 10) / 10,
    },
    senderCpuPercentOfCore: senderSample.cpuPercentOfCore,
    machine: machine(),
  }),
);
killChildren();
if (send.exitCode === null) send.kill('SIGKILL');
process.exit(0);
