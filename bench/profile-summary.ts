/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): the top functions by self time, as a share of all
 * samples and of the busy (non-idle) samples. Self time per node = the time deltas of the samples
 * that landed in it; nodes are merged by function, file and line.
 *
 *   node bench/profile-summary.ts <file.cpuprofile | dir> [--top 15] [--json]
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { benchArgs } from './args.ts';
import { ROOT } from './lib.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileRow {
  function: string;
  location: string;
  selfMs: number;
  /** Share of all sampled time. */
  percent: number;
  /** Share of the time the thread was not idle. */
  percentBusy: number;
}

const IDLE = new Set(['(idle)']);

/** Coarse areas for the headline ("x % in socket writes, y % in serialisation…"). */
function areaOf(fn: string, url: string): string {
  if (fn === '(garbage collector)') return 'garbage collection';
  if (['writeBuffer', 'writev', 'writeUtf8String', 'writeLatin1String'].includes(fn))
    return 'socket writes (native write/writev, the syscall and loopback TCP)';
  if (url.includes('stream_base_commons') || url.includes('internal/streams/writable') || url === 'node:net')
    return "Node's stream/net write path (JS)";
  if (/\/(media|core|edge|origin)\//.test(url)) return 'relaycast code (hub flush, serialisation, protocol)';
  if (fn === '_copyActual' || url === 'node:buffer' || url.startsWith('node:internal/buffer'))
    return 'buffer copies and allocation';
  if (fn === '(program)') return '(program): native code outside JS';
  return 'other';
}

function locationOf(url: string, line: number): string {
  if (!url) return '';
  let u = url.startsWith('file://') ? url.slice(7) : url;
  if (u.startsWith(ROOT)) u = relative(ROOT, u);
  else if (u.includes('/node_modules/')) u = u.slice(u.lastIndexOf('/node_modules/') + 1);
  return `${u}:${line + 1}`;
}

export function summariseProfile(
  profile: CpuProfile,
  top = 15,
): { totalMs: number; busyMs: number; rows: ProfileRow[]; areas: { area: string; percentBusy: number }[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const merged = new Map<string, { fn: string; loc: string; us: number }>();
  const areaUs = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    total += us;
    const fn = n.callFrame.functionName || '(anonymous)';
    if (IDLE.has(fn)) idle += us;
    else {
      const area = areaOf(fn, n.callFrame.url);
      areaUs.set(area, (areaUs.get(area) ?? 0) + us);
    }
    const loc = locationOf(n.callFrame.url, n.callFrame.lineNumber);
    const key = `${fn}@${loc}`;
    const m = merged.get(key);
    if (m) m.us += us;
    else merged.set(key, { fn, loc, us });
  }
  const busy = total - idle;
  const rows = [...merged.values()]
    .filter((m) => !IDLE.has(m.fn))
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((m) => ({
      function: m.fn,
      location: m.loc,
      selfMs: Math.round(m.us / 1000),
      percent: Math.round((m.us / total) * 1000) / 10,
      percentBusy: Math.round((m.us / busy) * 1000) / 10,
    }));
  const areas = [...areaUs]
    .sort((a, b) => b[1] - a[1])
    .map(([area, us]) => ({ area, percentBusy: Math.round((us / busy) * 1000) / 10 }));
  return { totalMs: Math.round(total / 1000), busyMs: Math.round(busy / 1000), rows, areas };
}

function newestProfile(path: string): string {
  if (!statSync(path).isDirectory()) return path;
  const files = readdirSync(path)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(path, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!files[0]) throw new Error(`no .cpuprofile in ${path}`);
  return files[0];
}

/**
 * Stops a server started under `node --cpu-prof --cpu-prof-dir=dir` with SIGTERM (node writes the
 * profile on exit) and summarises the newest profile in `dir`, for a bench's JSON line.
 */
export async function stopAndSummarise(
  server: ChildProcess,
  dir: string,
): Promise<Record<string, unknown> | undefined> {
  const exited = once(server, 'exit');
  server.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  // node names profiles CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; --workers threads
  // write their own (thread 1, 2, …): take the server's main thread (0), else the newest.
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  const ours = files.filter((f) => f.split('.')[3] === String(server.pid));
  const name = ours.find((f) => f.split('.')[4] === '0') ?? ours.pop() ?? files.pop();
  if (!name) return undefined;
  const file = join(dir, name);
  const s = summariseProfile(JSON.parse(readFileSync(file, 'utf8')), 15);
  return { file, sampledMs: s.totalMs, busyMs: s.busyMs, areas: s.areas, top: s.rows };
}

if (import.meta.main) {
  const { values, positionals } = benchArgs(
    import.meta.filename,
    'node bench/profile-summary.ts <file.cpuprofile | dir> [--top 15] [--json]\n\nThe top self-time functions of a CPU profile (the newest in a directory), and time by area.',
    { top: { type: 'string', default: '15' }, json: { type: 'boolean', default: false } },
    { positionals: true },
  );
  if (!positionals[0]) {
    console.error('usage: node bench/profile-summary.ts <file.cpuprofile | dir> [--top 15] [--json]');
    process.exit(2);
  }
  const file = newestProfile(positionals[0]);
  const s = summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(values.top));
  if (values.json) console.log(JSON.stringify({ file, ...s }));
  else {
    console.log(
      `${file}: ${(s.totalMs / 1000).toFixed(1)} s sampled, ${(s.busyMs / 1000).toFixed(1)} s busy (${Math.round((s.busyMs / s.totalMs) * 100)} %)`,
    );
    console.log('  self ms   % all  % busy  function (location)');
    for (const r of s.rows)
      console.log(
        `${String(r.selfMs).padStart(8)}  ${r.percent.toFixed(1).padStart(6)}  ${r.percentBusy.toFixed(1).padStart(6)}  ${r.function}${r.location ? ` (${r.location})` : ''}`,
      );
    console.log('\nby area (% of busy):');
    for (const a of s.areas) console.log(`${a.percentBusy.toFixed(1).padStart(6)}  ${a.area}`);
  }
}
