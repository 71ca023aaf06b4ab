/**
 * `npm run bench:all`: the fan-out ramps (HTTP-FLV, RTMP, HLS; bench/run.ts) and the ingest ramp
 * (bench/ingest.ts). Each run prints one JSON line; this prints them all, then Markdown tables for
 * docs/performance.md and README's performance section.
 *
 *   node bench/all.ts [--only flv,rtmp,hls,llhls,ingest,sources]
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { benchArgs } from './args.ts';

const { values } = benchArgs(
  import.meta.filename,
  `npm run bench:all [-- --only flv,rtmp,hls,llhls,ingest]
Runs the fan-out ramps (HTTP-FLV, RTMP, HLS, LL-HLS), the LL-HLS latency runs in Chromium, the
RTMP ingest ramp and the TV-channel (MPEG-TS over UDP) ingest runs one after another, prints one
JSON line per run and then the Markdown tables of docs/performance.md. The whole set is 17 runs of
25-30 s each and two of 2 minutes, plus their start-up: about 17 minutes on a 2-core machine;
--only narrows it.`,
  { only: { type: 'string', default: 'flv,rtmp,hls,llhls,ingest,sources' } },
);
const only = new Set((values.only ?? '').split(','));

const runs: [string, string, string[]][] = [
  ['flv', 'run.ts', ['--viewers', '1000', '--duration', '20']],
  ['flv', 'run.ts', ['--viewers', '2000', '--duration', '20']],
  ['flv', 'run.ts', ['--viewers', '4000', '--duration', '20', '--ramp', '10']],
  ['flv', 'run.ts', ['--viewers', '5000', '--duration', '20', '--ramp', '10', '--kbps', '1000']],
  ['flv', 'run.ts', ['--viewers', '1000', '--duration', '20', '--slow-fraction', '0.1']],
  ['rtmp', 'run.ts', ['--protocol', 'rtmp', '--viewers', '1000', '--duration', '20']],
  ['rtmp', 'run.ts', ['--protocol', 'rtmp', '--viewers', '2000', '--duration', '20', '--ramp', '10']],
  ['hls', 'run.ts', ['--protocol', 'hls', '--viewers', '1000', '--duration', '20']],
  ['hls', 'run.ts', ['--protocol', 'hls', '--viewers', '2000', '--duration', '20', '--ramp', '10']],
  [
    'hls',
    'run.ts',
    ['--protocol', 'hls', '--viewers', '5000', '--duration', '20', '--ramp', '10', '--kbps', '1000'],
  ],
  ['llhls', 'run.ts', ['--protocol', 'llhls', '--viewers', '1000', '--duration', '20']],
  ['llhls', 'run.ts', ['--protocol', 'llhls', '--viewers', '1000', '--duration', '20', '--kbps', '1000']],
  ['llhls', 'llhls-latency.ts', ['--gop', '250', '--duration', '120']],
  ['llhls', 'llhls-latency.ts', ['--gop', '30', '--duration', '120']],
  ['ingest', 'ingest.ts', ['--publishers', '50', '--duration', '20', '--ramp', '5']],
  ['ingest', 'ingest.ts', ['--publishers', '100', '--duration', '20', '--ramp', '10']],
  ['ingest', 'ingest.ts', ['--publishers', '200', '--duration', '20', '--ramp', '10']],
  ['sources', 'sources.ts', ['--channels', '25', '--kbps', '8000', '--duration', '20']],
  ['sources', 'sources.ts', ['--channels', '50', '--kbps', '8000', '--duration', '20']],
];
const rows: Record<string, unknown>[] = [];
for (const [kind, script, args] of runs) {
  if (!only.has(kind)) continue;
  const r = spawnSync(process.execPath, [join(import.meta.dirname, script), ...args], {
    encoding: 'utf8',
    timeout: 180_000,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  console.log(line);
  try {
    rows.push(JSON.parse(line) as Record<string, unknown>);
  } catch {
    console.error(`run ${script} ${args.join(' ')} failed: ${r.stderr.slice(-2000)}`);
  }
}

type Server = { cpuPercentOfCore: number; cpuPercentPer1000Viewers: number; rssPeakMb: number };
const fanout = rows.filter((r) => r.bench === 'fanout-http-flv' || r.bench === 'fanout-rtmp');
if (fanout.length) {
  console.log(
    '\n| protocol | viewers | stream | slow | failed | stalled | TTFK p50/p95 ms | server CPU % of a core | per 1000 viewers | RSS MB | skips/drops | swarm CPU % |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of fanout) {
    const s = r.server as Server;
    console.log(
      `| ${r.protocol ?? 'flv'} | ${r.viewers} | ${r.streamKbps} kbit/s | ${r.slowViewers} | ${r.failed} | ${r.stalled} | ${r.ttfkMsP50}/${r.ttfkMsP95} | ${s.cpuPercentOfCore} | ${s.cpuPercentPer1000Viewers} | ${s.rssPeakMb} | ${r.serverSkips}/${r.serverDrops} | ${r.swarmCpuPercentOfCore} |`,
    );
  }
}
const hls = rows.filter((r) => r.bench === 'fanout-hls');
if (hls.length) {
  console.log(
    '\n| HLS viewers | stream | failed | errors | missed segments | segment fetch p50/p99 ms | behind live p50/p99 ms | server CPU % of a core | per 1000 viewers | RSS MB | swarm CPU % |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of hls) {
    const s = r.server as Server;
    console.log(
      `| ${r.viewers} | ${r.streamKbps} kbit/s | ${r.failed} | ${r.errors} | ${r.missedSegments} | ${r.segmentMsP50}/${r.segmentMsP99} | ${r.behindLiveMsP50}/${r.behindLiveMsP99} | ${s.cpuPercentOfCore} | ${s.cpuPercentPer1000Viewers} | ${s.rssPeakMb} | ${r.swarmCpuPercentOfCore} |`,
    );
  }
}
const ll = rows.filter((r) => r.bench === 'fanout-llhls');
if (ll.length) {
  console.log(
    '\n| LL-HLS viewers | stream | got parts | viewers with gaps | errors | part age p50/p99 ms | reload after part p50/p99 ms | server CPU % of a core | RSS MB | swarm CPU % |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of ll) {
    const s = r.server as Server;
    console.log(
      `| ${r.viewers} | ${r.streamKbps} kbit/s | ${r.gotParts} | ${r.viewersWithGaps} | ${r.errors} | ${r.partAgeMsP50}/${r.partAgeMsP99} | ${r.reloadAfterPartMsP50}/${r.reloadAfterPartMsP99} | ${s.cpuPercentOfCore} | ${s.rssPeakMb} | ${r.swarmCpuPercentOfCore} |`,
    );
  }
}
const llLatency = rows.filter((r) => r.bench === 'llhls-latency');
if (llLatency.length) {
  console.log(
    '\n| LL-HLS in Chromium | GOP | start-up ms | latency p50/p90/max ms | stalls | player errors |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const r of llLatency)
    console.log(
      `| ${r.via} | ${r.gopFrames} frames | ${r.startupMs} | ${r.latencyMsP50}/${r.latencyMsP90}/${r.latencyMsMax} | ${r.stalls} | ${(r.playerErrors as string[]).length} |`,
    );
}
const ingest = rows.filter((r) => r.bench === 'ingest-rtmp');
if (ingest.length) {
  console.log(
    '\n| publishers | failed | live (API) | at rate | ingest kbit/s min/p50 | server CPU % of a core | per 100 publishers | RSS MB | swarm CPU % |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of ingest) {
    const s = r.server as { cpuPercentOfCore: number; cpuPercentPer100Publishers: number; rssPeakMb: number };
    const a = r.api as { live: number; atRate: number; ingestKbpsMin: number; ingestKbpsP50: number };
    console.log(
      `| ${r.publishers} | ${r.failed} | ${a.live} | ${a.atRate} | ${a.ingestKbpsMin}/${a.ingestKbpsP50} | ${s.cpuPercentOfCore} | ${s.cpuPercentPer100Publishers} | ${s.rssPeakMb} | ${r.swarmCpuPercentOfCore} |`,
    );
  }
}
const tv = rows.filter((r) => r.bench === 'sources-udp');
if (tv.length) {
  console.log(
    '\n| TV channels (UDP MPEG-TS) | total Mbit/s | at rate | loss % | CC errors (from looping) | server CPU % of a core | per 10 channels | RSS MB | sender CPU % |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of tv) {
    const s = r.server as { cpuPercentOfCore: number; cpuPercentPer10Channels: number; rssPeakMb: number };
    console.log(
      `| ${r.channels} × ${r.kbpsPerChannel} kbit/s | ${r.totalMbps} | ${r.receivingAtRate} | ${r.lossPercent} | ${r.ccErrorsInWindow} (${r.ccErrorsFromLooping}) | ${s.cpuPercentOfCore} | ${s.cpuPercentPer10Channels} | ${s.rssPeakMb} | ${r.senderCpuPercentOfCore} |`,
    );
  }
}
