/**
 * Failover timing: a viewer reads HTTP-FLV from an edge; its origin is killed (-9); the
 * broadcaster republishes to the other origin after --reconnect-ms (its own reconnect time,
 * reported separately). Measures the viewer's gap from the kill to the first new keyframe, and
 * from the republish to it. Prints one JSON line. Bounded by --runs.
 *
 *   node bench/failover.ts [--runs 3] [--reconnect-ms 1000] [--lease-ttl 5]
 */
import { request } from 'node:http';
import { benchArgs } from './args.ts';
import { children, startNode, startRedisServer } from './cluster-lib.ts';
import { FlvScanner } from './flv-scan.ts';
import { machine, publishLoop, testStream } from './lib.ts';

const { values } = benchArgs(
  import.meta.filename,
  `node bench/failover.ts [--runs 3] [--reconnect-ms 1000] [--lease-ttl 5]

Failover timing: a viewer reads HTTP-FLV from an edge; its origin is killed (-9); the
broadcaster republishes to the other origin after --reconnect-ms (its own reconnect time,
reported separately). Measures the viewer's gap from the kill to the first new keyframe, and
from the republish to it. Prints one JSON line. Bounded by --runs.`,
  {
    runs: { type: 'string', default: '3' },
    'reconnect-ms': { type: 'string', default: '1000' },
    'lease-ttl': { type: 'string', default: '5' },
  },
);
const runs = Number(values.runs);
const reconnectMs = Number(values['reconnect-ms']);
const file = testStream(1000);
const redisUrl = await startRedisServer();
const common = [
  '--redis-url',
  redisUrl,
  '--lease-ttl',
  String(values['lease-ttl']),
  '--advertise-host',
  '127.0.0.1',
];
const edge = await startNode('edge', common);
const results: { gapFromKillMs: number; resumeAfterRepublishMs: number }[] = [];

for (let i = 0; i < runs; i++) {
  const a = await startNode('origin', [...common, '--node-id', `a${i}`]);
  const b = await startNode('origin', [...common, '--node-id', `b${i}`]);
  const name = `fo${i}`;
  const pubA = publishLoop(file, `rtmp://127.0.0.1:${a.rtmp}/live/${name}`);
  children.push(pubA);
  await new Promise((r) => setTimeout(r, 3000));
  let keyframesAfterRepublish = 0;
  let resumeAt = 0;
  let republishAt = Number.POSITIVE_INFINITY;
  const scanner = new FlvScanner();
  const req = request(`http://127.0.0.1:${edge.http}/live/${name}.flv`, (res) => {
    res.on('data', (chunk: Buffer) => {
      const now = performance.now();
      scanner.push(chunk, (t) => {
        if (t.keyframe && now > republishAt && !keyframesAfterRepublish++) resumeAt = now;
      });
    });
    res.on('error', () => {});
  });
  req.on('error', () => {});
  req.end();
  await new Promise((r) => setTimeout(r, 2000));
  const killAt = performance.now();
  a.proc.kill('SIGKILL');
  pubA.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, reconnectMs));
  republishAt = performance.now();
  const pubB = publishLoop(file, `rtmp://127.0.0.1:${b.rtmp}/live/${name}`);
  children.push(pubB);
  const deadline = Date.now() + 30_000;
  while (!resumeAt && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  req.destroy();
  pubB.kill('SIGKILL');
  b.proc.kill('SIGKILL');
  results.push(
    resumeAt
      ? {
          gapFromKillMs: Math.round(resumeAt - killAt),
          resumeAfterRepublishMs: Math.round(resumeAt - republishAt),
        }
      : { gapFromKillMs: -1, resumeAfterRepublishMs: -1 },
  );
}
const ok = results.filter((r) => r.gapFromKillMs >= 0);
const avg = (xs: number[]) => (xs.length ? Math.round(xs.reduce((a, b) => a + b, 0) / xs.length) : null);
console.log(
  JSON.stringify({
    bench: 'failover',
    runs,
    resumed: ok.length,
    broadcasterReconnectMs: reconnectMs,
    gapFromKillMsAvg: avg(ok.map((r) => r.gapFromKillMs)),
    resumeAfterRepublishMsAvg: avg(ok.map((r) => r.resumeAfterRepublishMs)),
    resumeAfterRepublishMsMax: ok.length ? Math.max(...ok.map((r) => r.resumeAfterRepublishMs)) : null,
    results,
    machine: machine(),
  }),
);
process.exit(0);
