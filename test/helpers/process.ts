/**
 * Helpers for end-to-end tests: free ports, relaycast processes, ffmpeg publishers. Every process a
 * test starts is tracked and killed by PID (never by name); every wait is bounded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from '../../core/config.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
export const NODE = process.execPath;
export const CLI = join(ROOT, 'cli', 'main.ts');

const started = new Set<ChildProcess>();

/** Kills every process started through these helpers (call from after()). */
export async function killAll(): Promise<void> {
  await Promise.all([...started].map((p) => stopProcess(p)));
}

export async function stopProcess(
  p: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 5000,
): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) {
    started.delete(p);
    return;
  }
  const exited = once(p, 'exit');
  p.kill(signal);
  const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
  started.delete(p);
}

export function track(p: ChildProcess): ChildProcess {
  started.add(p);
  p.once('exit', () => started.delete(p));
  return p;
}

/**
 * A free port for a server a test starts. Chosen at random below the kernel's ephemeral range
 * (32768+): a port handed out by listen(0) comes from that range, where the test's own outgoing
 * connections (ffmpeg, fetch) may take it before the server binds it.
 */
export async function freePort(): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(-1));
      srv.listen(port, '127.0.0.1', () => {
        const addr = srv.address();
        const got = typeof addr === 'object' && addr ? addr.port : -1;
        srv.close(() => resolve(got));
      });
    });
  for (let i = 0; i < 50; i++) {
    const port = await tryListen(12_000 + Math.floor(Math.random() * 20_000));
    if (port > 0) return port;
  }
  return tryListen(0);
}

/** A free UDP port (the WebRTC port of an all-in-one or edge a test starts), chosen like freePort. */
export async function freeUdpPort(): Promise<number> {
  const tryBind = (port: number) =>
    new Promise<number>((resolve) => {
      const sock = createSocket('udp4');
      sock.once('error', () => resolve(-1));
      sock.bind(port, '127.0.0.1', () => {
        const got = sock.address().port;
        sock.close(() => resolve(got));
      });
    });
  for (let i = 0; i < 50; i++) {
    const port = await tryBind(12_000 + Math.floor(Math.random() * 20_000));
    if (port > 0) return port;
  }
  return tryBind(0);
}

export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 15_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`,
  );
}

export interface RelaycastProcess {
  proc: ChildProcess;
  ports: { rtmp: number; http: number; admin: number; internal: number; grpc: number; webrtc?: number };
  logs: Record<string, unknown>[];
  stderr: string[];
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Resolves with the first log line matching. */
  waitForLog(
    pred: (l: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

/** How to launch the process (defaults: on 127.0.0.1, node spawned directly). */
export interface LaunchOptions {
  /** --host value (default 127.0.0.1). */
  host?: string;
  /** Command run in front of node, e.g. ['ip', 'netns', 'exec', 'ns1'] (it must exec node). */
  prefix?: string[];
}

/** Starts `relaycast <role>` on free ports and waits for its 'ready' log line. */
export async function startRelaycast(
  role: string,
  extraArgs: string[] = [],
  env: Record<string, string> = {},
  ports?: Partial<RelaycastProcess['ports']>,
  launch: LaunchOptions = {},
): Promise<RelaycastProcess> {
  // freePort checks a port and closes it; a test file running alongside may take the same port
  // before this process binds it. When the port lost was one chosen here (not given by the test),
  // choose fresh ones and start again, at most three times.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRelaycastOnce(role, extraArgs, env, ports, launch);
    } catch (err) {
      const given = [...Object.values(ports ?? {}), ...extraArgs.map(Number)];
      if (!(err instanceof PortTakenError) || attempt >= 3 || given.includes(err.port)) throw err;
    }
  }
}

/** A start that failed because a port was in use (RC_PORT_IN_USE), and which port. */
class PortTakenError extends Error {
  readonly port: number;
  constructor(message: string, port: number) {
    super(message);
    this.port = port;
  }
}

async function startRelaycastOnce(
  role: string,
  extraArgs: string[],
  env: Record<string, string>,
  ports: Partial<RelaycastProcess['ports']> | undefined,
  launch: LaunchOptions,
): Promise<RelaycastProcess> {
  const p = {
    rtmp: ports?.rtmp ?? (await freePort()),
    http: ports?.http ?? (await freePort()),
    admin: ports?.admin ?? (await freePort()),
    internal: ports?.internal ?? (await freePort()),
    grpc: ports?.grpc ?? (await freePort()),
  };
  // Every all-in-one and edge has a WebRTC UDP port (default 8189): give each its own.
  const webrtcArgs: string[] = [];
  // Tests choose their process layout: one process unless a test asks for --workers (the default,
  // auto, would give every node here a worker per core and make each test's layout the machine's).
  if ((role === 'all' || role === 'edge') && !extraArgs.includes('--workers'))
    webrtcArgs.push('--workers', '1');
  if ((role === 'all' || role === 'edge') && !extraArgs.includes('--webrtc-udp-port')) {
    const webrtc = ports?.webrtc ?? (await freeUdpPort());
    webrtcArgs.push('--webrtc-udp-port', String(webrtc));
    (p as RelaycastProcess['ports']).webrtc = webrtc;
  }
  const args = [
    CLI,
    role,
    '--host',
    launch.host ?? '127.0.0.1',
    '--rtmp-port',
    String(p.rtmp),
    '--http-port',
    String(p.http),
    '--admin-port',
    String(p.admin),
    '--internal-port',
    String(p.internal),
    '--grpc-port',
    String(p.grpc),
    '--log-level',
    'debug',
    // the all-in-one keeps channels in --data-dir: one fresh directory per process unless given
    ...(role === 'all' && !extraArgs.includes('--data-dir')
      ? ['--data-dir', mkdtempSync(join(tmpdir(), 'relaycast-data-'))]
      : []),
    ...webrtcArgs,
    ...extraArgs,
  ];
  const [cmd, ...cmdArgs] = [...(launch.prefix ?? []), NODE, ...args] as [string, ...string[]];
  const proc = track(
    spawn(cmd, cmdArgs, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  let buf = '';
  let closed = false;
  proc.once('close', () => {
    closed = true;
  });
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        stderr.push(line);
      }
      nl = buf.indexOf('\n');
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 15_000) =>
    waitFor(
      'log line',
      () => {
        if (proc.exitCode !== null) throw new Error(`relaycast exited ${proc.exitCode}: ${stderr.join('')}`);
        return logs.find(pred);
      },
      timeoutMs,
      50,
    );
  try {
    // a process that exits during start-up ends the wait at once, once its output is all read (waitFor would retry to its end)
    const ready = await waitFor(
      'ready log line',
      () => (closed ? 'exited' : logs.find((l) => l.msg === 'ready')),
      20_000,
      50,
    );
    if (ready === 'exited') throw new Error(`relaycast exited ${proc.exitCode}`);
  } catch (err) {
    await stopProcess(proc, 'SIGKILL');
    const message = `relaycast ${role} did not start: ${(err as Error).message}\nstderr: ${stderr.join('')}`;
    // "port 127.0.0.1:17949 (--grpc-port) is already in use" or "WebRTC UDP port 17949 is in use"
    const taken = /port (?:[\d.]+:)?(\d+)\b[^\n]*? is (?:already )?in use/.exec(stderr.join(''));
    throw taken && message.includes('RC_PORT_IN_USE')
      ? new PortTakenError(message, Number(taken[1]))
      : new Error(message);
  }
  return {
    proc,
    ports: p,
    logs,
    stderr,
    stop: (signal = 'SIGTERM') => stopProcess(proc, signal),
    waitForLog,
  };
}

export interface Publisher {
  proc: ChildProcess;
  stderr: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface PublishOptions {
  size?: string;
  rate?: number;
  gop?: number;
  audio?: 'aac' | 'mp3' | 'none';
  video?: boolean;
  durationSec?: number;
  /** Burn wall-clock into the picture? (not needed by most tests) */
  extra?: string[];
}

/** ffmpeg publishing a synthetic test pattern + tone in real time (-re). */
export function publish(url: string, o: PublishOptions = {}): Publisher {
  const size = o.size ?? '640x360';
  const rate = o.rate ?? 30;
  const gop = o.gop ?? rate;
  const audio = o.audio ?? 'aac';
  const video = o.video ?? true;
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re'];
  if (video) args.push('-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}`);
  if (audio !== 'none') args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100');
  if (o.durationSec) args.push('-t', String(o.durationSec));
  if (video)
    args.push(
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-tune',
      'zerolatency',
      '-g',
      String(gop),
      '-pix_fmt',
      'yuv420p',
    );
  if (audio === 'aac') args.push('-c:a', 'aac', '-b:a', '96k');
  if (audio === 'mp3') args.push('-c:a', 'libmp3lame', '-b:a', '96k', '-ar', '44100');
  args.push(...(o.extra ?? []), '-f', 'flv', url);
  const proc = track(spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] }));
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    if (err.length > 20_000) err = err.slice(-10_000);
  });
  return { proc, stderr: () => err, stop: (signal = 'SIGKILL') => stopProcess(proc, signal) };
}

/** Runs a command to completion (bounded), returning its output. */
export async function run(
  cmd: string,
  args: string[],
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  p.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  p.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(p, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export async function ffprobe(url: string): Promise<{ streams: Record<string, unknown>[] }> {
  const r = await run(
    'ffprobe',
    ['-v', 'error', '-show_streams', '-of', 'json', '-rw_timeout', '10000000', url],
    30_000,
  );
  if (r.code !== 0) throw new Error(`ffprobe ${url} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as { streams: Record<string, unknown>[] };
}

export async function getJson<T = unknown>(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Ports a role does not use, turned off so startRelaycast's free ports are not bound twice. */
const UNUSED_PORTS: Record<'control-plane' | 'origin' | 'edge', string[]> = {
  'control-plane': ['--http-port', '0', '--rtmp-port', '0', '--internal-port', '0'],
  origin: ['--http-port', '0', '--grpc-port', '0'],
  edge: ['--internal-port', '0', '--grpc-port', '0'],
};

/** One node of a test cluster on `redisUrl`: lease TTL 2 s, advertised on 127.0.0.1. */
export function startClusterNode(
  role: 'control-plane' | 'origin' | 'edge',
  redisUrl: string,
  nodeId: string,
  extra: string[] = [],
): Promise<RelaycastProcess> {
  return startRelaycast(role, [
    ...['--redis-url', redisUrl, '--lease-ttl', '2', '--advertise-host', '127.0.0.1', '--node-id', nodeId],
    ...UNUSED_PORTS[role],
    ...extra,
  ]);
}

/** The width of the first video stream ffprobe finds at `url` (0 when none or unreachable). */
export async function videoWidth(url: string): Promise<number> {
  const r = await run(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width', '-of', 'csv=p=0', url],
    30_000,
  );
  return Number(r.stdout.trim().split('\n')[0]) || 0;
}

/** Whether a process (one a test started) still exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The config of an all-in-one started inside the test process (startAll), on free loopback ports
 * with its own --data-dir, silent; `workers` as given (tests pick their layout).
 */
export async function inProcessAllConfig(workers: number): Promise<{
  config: Config;
  ports: { rtmp: number; http: number; admin: number; grpc: number; webrtc: number };
}> {
  const ports = {
    rtmp: await freePort(),
    http: await freePort(),
    admin: await freePort(),
    grpc: await freePort(),
    // not the default 8189, which a relaycast the developer runs (or another test) may hold
    webrtc: await freeUdpPort(),
  };
  const flags = new Map<string, string | true>([
    ['rtmp-port', String(ports.rtmp)],
    ['http-port', String(ports.http)],
    ['admin-port', String(ports.admin)],
    ['grpc-port', String(ports.grpc)],
    ['webrtc-udp-port', String(ports.webrtc)],
    ['host', '127.0.0.1'],
    ['log-level', 'silent'],
    ['workers', String(workers)],
    ['data-dir', mkdtempSync(join(tmpdir(), 'relaycast-inproc-'))],
  ]);
  return { config: loadConfig('all', flags, {}), ports };
}
