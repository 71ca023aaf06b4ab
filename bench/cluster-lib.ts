/** Starting redis-server and relaycast roles for benchmarks (bounded waits, killed by PID). */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { ROOT } from './lib.ts';

export const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof a === 'object' && a ? a.port : 0;
}

export async function waitHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready`);
}

export async function startRedisServer(): Promise<string> {
  const port = await freePort();
  children.push(
    spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    ),
  );
  await new Promise((r) => setTimeout(r, 300));
  return `redis://127.0.0.1:${port}`;
}

export interface Node {
  proc: ChildProcess;
  rtmp: number;
  http: number;
  internal: number;
  admin: number;
}

/** `nodeArgs` go to node itself, before the script (e.g. --cpu-prof). */
export async function startNode(role: string, args: string[], nodeArgs: string[] = []): Promise<Node> {
  const n = {
    rtmp: await freePort(),
    http: await freePort(),
    internal: await freePort(),
    admin: await freePort(),
  };
  const proc = spawn(
    process.execPath,
    [
      ...nodeArgs,
      'cli/main.ts',
      role,
      '--host',
      '127.0.0.1',
      '--rtmp-port',
      String(n.rtmp),
      '--http-port',
      String(n.http),
      '--internal-port',
      String(n.internal),
      '--admin-port',
      String(n.admin),
      '--grpc-port',
      '0',
      '--log-level',
      'warn',
      // benchmarks here measure HTTP-FLV/HLS/RTMP: no WebRTC port to collide between nodes
      '--webrtc-udp-port',
      '0',
      ...args,
    ],
    { cwd: ROOT, stdio: 'ignore', env: { ...process.env, RELAYCAST_BANNER: '0' } },
  );
  children.push(proc);
  await waitHttp(`http://127.0.0.1:${n.admin}/readyz`);
  return { proc, ...n };
}

/**
 * `--via edge` of the fan-out benches: a local redis-server and an origin (not measured) that the
 * edge under test pulls from; `edgeArgs` are the edge's cluster flags. `all`: nothing to start.
 */
export async function originForEdge(via: 'all' | 'edge'): Promise<{ origin?: Node; edgeArgs: string[] }> {
  if (via !== 'edge') return { edgeArgs: [] };
  const cluster = ['--redis-url', await startRedisServer(), '--advertise-host', '127.0.0.1'];
  const origin = await startNode('origin', [...cluster, '--node-id', 'bench-origin', '--http-port', '0']);
  return { origin, edgeArgs: [...cluster, '--node-id', 'bench-edge', '--internal-port', '0'] };
}
