/** Shared pieces of the benchmarks: the cached test stream, process sampling from /proc, ports. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');
export const CACHE = join(ROOT, 'bench', '.cache');
const CLK_TCK = 100;

/**
 * The benchmark stream: 1280x720@30 H.264 (CBR 2.5 Mbit/s, 1 s GOP) + AAC 128 kbit/s ≈ 2.65 Mbit/s,
 * or a 1 Mbit/s variant. Encoded once with ffmpeg and cached (never committed).
 */
export function testStream(kbps: 2650 | 1000 = 2650): string {
  mkdirSync(CACHE, { recursive: true });
  const file = join(CACHE, `stream-${kbps}k.flv`);
  if (existsSync(file)) return file;
  const video = kbps === 2650 ? '2500k' : '880k';
  const size = kbps === 2650 ? '1280x720' : '854x480';
  const r = spawnSync(
    'ffmpeg',
    [
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=${size}:rate=30`,
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=44100',
      '-t',
      '30',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-b:v',
      video,
      '-maxrate',
      video,
      '-bufsize',
      video,
      '-x264-params',
      'nal-hrd=cbr',
      '-g',
      '30',
      '-keyint_min',
      '30',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-b:a',
      '128k',
      '-f',
      'flv',
      file,
    ],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) throw new Error('ffmpeg could not encode the benchmark stream');
  return file;
}

/** ffmpeg publishing the cached file in real time, looped, without re-encoding. */
export function publishLoop(file: string, url: string): ChildProcess {
  return spawn(
    'ffmpeg',
    ['-v', 'error', '-re', '-stream_loop', '-1', '-i', file, '-c', 'copy', '-f', 'flv', url],
    { stdio: 'ignore' },
  );
}

export function procTimes(pid: number): { cpuSeconds: number; rssBytes: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { cpuSeconds: (utime + stime) / CLK_TCK, rssBytes: rssKb * 1024 };
  } catch {
    return undefined;
  }
}

/** A process and all its descendants (e.g. --workers): CPU seconds and RSS summed. */
export function procTreeTimes(pid: number): { cpuSeconds: number; rssBytes: number } | undefined {
  const own = procTimes(pid);
  if (!own) return undefined;
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    /* no children file: count the process alone */
  }
  for (const c of children) {
    const t = procTreeTimes(c);
    if (t) {
      own.cpuSeconds += t.cpuSeconds;
      own.rssBytes += t.rssBytes;
    }
  }
  return own;
}

/** Samples a process (with its children): CPU share of one core over a window, and peak/last RSS. */
export async function sampleProcess(
  pid: number,
  windowMs: number,
): Promise<{ cpuPercentOfCore: number; rssMb: number; rssPeakMb: number }> {
  const a = procTreeTimes(pid);
  const t0 = performance.now();
  let peak = a?.rssBytes ?? 0;
  const end = t0 + windowMs;
  while (performance.now() < end) {
    await new Promise((r) => setTimeout(r, 500));
    const s = procTreeTimes(pid);
    if (s && s.rssBytes > peak) peak = s.rssBytes;
  }
  const b = procTreeTimes(pid);
  const seconds = (performance.now() - t0) / 1000;
  return {
    cpuPercentOfCore: a && b ? Math.round(((b.cpuSeconds - a.cpuSeconds) / seconds) * 1000) / 10 : -1,
    rssMb: b ? Math.round(b.rssBytes / 1e5) / 10 : -1,
    rssPeakMb: Math.round(peak / 1e5) / 10,
  };
}

export function machine(): Record<string, unknown> {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model,
    loadavg1: Math.round(loadavg()[0]! * 100) / 100,
    node: process.version,
  };
}

/**
 * Kernel TCP counters that explain refused connections under load (from /proc/net/netstat):
 * accept-queue overflows and SYN cookies that failed (the client then sees ECONNRESET).
 */
export function tcpCounters(): { listenOverflows: number; syncookiesFailed: number } {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const i = lines.findIndex((l) => l.startsWith('TcpExt:'));
    const names = lines[i]!.split(' ');
    const vals = lines[i + 1]!.split(' ');
    const get = (n: string) => Number(vals[names.indexOf(n)] ?? 0);
    return { listenOverflows: get('ListenOverflows'), syncookiesFailed: get('SyncookiesFailed') };
  } catch {
    return { listenOverflows: -1, syncookiesFailed: -1 };
  }
}

/** Processes a runner started; all are killed (by PID) when it exits. */
export const children: ChildProcess[] = [];
/** Children started as process-group leaders (setsid): killed with their whole group. */
const groupLeaders = new Set<number>();
export function killChildren(): void {
  for (const c of children) {
    if (c.pid !== undefined && groupLeaders.has(c.pid)) {
      // the group outlives its leader when --workers children are still running
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        /* the group is gone already */
      }
    } else if (c.exitCode === null) c.kill('SIGKILL');
  }
}
process.on('exit', killChildren);

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof a === 'object' && a ? a.port : 0;
}

/**
 * Runs a command with a raised fd limit; bash exec()s it, so the child's pid is the command's.
 * `processGroup`: the child leads a new process group (setsid), so whatever it forks (--workers)
 * can be measured as one group (bench/flv-swarm.c --pid) and is killed with it.
 */
export function withFdLimit(args: string[], { processGroup = false } = {}): ChildProcess {
  const cmd = `ulimit -n 65536 2>/dev/null || ulimit -n 16384; exec ${args.map((a) => `'${a}'`).join(' ')}`;
  const p = spawn('bash', ['-c', cmd], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: processGroup,
  });
  children.push(p);
  if (processGroup && p.pid !== undefined) groupLeaders.add(p.pid);
  return p;
}

/**
 * Starts `relaycast all` (or `role`, e.g. an edge given its --redis-url in `extraArgs`) on free
 * loopback ports (log level warn) and waits until it is ready.
 */
export async function startBenchServer(
  nodeArgs: string[] = [],
  extraArgs: string[] = [],
  role: 'all' | 'edge' = 'all',
  { processGroup = false } = {},
): Promise<{ server: ChildProcess; rtmp: number; http: number; admin: number }> {
  const [rtmp, http, admin] = [await freePort(), await freePort(), await freePort()];
  process.env.RELAYCAST_BANNER = '0';
  const server = withFdLimit(
    [
      process.execPath,
      ...nodeArgs,
      'cli/main.ts',
      role,
      '--host',
      '127.0.0.1',
      '--rtmp-port',
      String(rtmp),
      '--http-port',
      String(http),
      '--admin-port',
      String(admin),
      '--grpc-port',
      '0',
      '--log-level',
      'warn',
      ...extraArgs,
    ],
    { processGroup },
  );
  server.stdout!.resume();
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`http://127.0.0.1:${admin}/readyz`)).ok) break;
    } catch {
      /* starting */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { server, rtmp, http, admin };
}

/**
 * A C program of bench/ built with gcc into bench/.cache/, rebuilt when missing or older than its
 * source or bench/swarm-common.h; `libs` are the linker flags it needs (and `pkg` the Debian package that has them).
 */
export function buildC(name: string, libs: string[] = [], pkg = ''): string {
  const src = join(import.meta.dirname, `${name}.c`);
  const bin = join(CACHE, name);
  // the sources: the program and the header the clients share
  const newest = Math.max(
    statSync(src).mtimeMs,
    statSync(join(import.meta.dirname, 'swarm-common.h')).mtimeMs,
  );
  if (existsSync(bin) && statSync(bin).mtimeMs >= newest) return bin;
  mkdirSync(CACHE, { recursive: true });
  const r = spawnSync('gcc', ['-O2', '-Wall', '-o', bin, src, ...libs], { stdio: 'inherit' });
  if (r.error || r.status !== 0)
    throw new Error(
      `cannot build bench/${name}.c (${r.error?.message ?? `gcc exited ${r.status}`}): install gcc${pkg ? ` and ${pkg}` : ''} (apt-get install gcc${pkg ? ` ${pkg}` : ''})`,
    );
  return bin;
}

/** bench/flv-swarm.c, built. */
export function buildSwarm(): string {
  return buildC('flv-swarm');
}
