/**
 * `npm run bench`: the fan-out ramps. Each run prints one JSON line (bench/run.ts); this prints
 * them all, then a Markdown table for README's performance section.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const runs = [
  ['--viewers', '1000', '--duration', '20'],
  ['--viewers', '2000', '--duration', '20'],
  ['--viewers', '4000', '--duration', '20', '--ramp', '10'],
  ['--viewers', '5000', '--duration', '20', '--ramp', '10', '--kbps', '1000'],
  ['--viewers', '1000', '--duration', '20', '--slow-fraction', '0.1'],
];
const rows: Record<string, unknown>[] = [];
for (const args of runs) {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, 'run.ts'), ...args], {
    encoding: 'utf8',
    timeout: 180_000,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  console.log(line);
  try {
    rows.push(JSON.parse(line) as Record<string, unknown>);
  } catch {
    console.error(`run ${args.join(' ')} failed: ${r.stderr.slice(-2000)}`);
  }
}
console.log(
  '\n| viewers | stream | slow | failed | stalled | TTFK p50/p95 ms | server CPU % of a core | per 1000 viewers | RSS MB | skips/drops |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const s = r.server as { cpuPercentOfCore: number; cpuPercentPer1000Viewers: number; rssPeakMb: number };
  console.log(
    `| ${r.viewers} | ${r.streamKbps} kbit/s | ${r.slowViewers} | ${r.failed} | ${r.stalled} | ${r.ttfkMsP50}/${r.ttfkMsP95} | ${s.cpuPercentOfCore} | ${s.cpuPercentPer1000Viewers} | ${s.rssPeakMb} | ${r.serverSkips}/${r.serverDrops} |`,
  );
}
