/**
 * `npm run cluster`: a local cluster as separate processes — redis-server, a control plane,
 * 2 origins, 2 edges — on distinct ports. Prints the publish and play URLs; Ctrl-C stops
 * everything it started (by PID).
 *
 * Ports: redis 6390; control plane gRPC 50051, admin 9095; origins RTMP 1935/1936, internal
 * 8081/8082, admin 9091/9092; edges HTTP 8080/8090, RTMP play 1945/1946, admin 9093/9094. Override the base with
 * RELAYCAST_CLUSTER_PORT_OFFSET (added to every port).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const offset = Number(process.env.RELAYCAST_CLUSTER_PORT_OFFSET ?? 0);
const port = (p: number) => p + offset;

if (spawnSync('redis-server', ['--version']).error) {
  console.error(
    'npm run cluster needs redis-server, which is not installed.\n' +
      '  Debian/Ubuntu: sudo apt-get install redis-server   (or: bash .ci/install-deps.sh as root)\n' +
      '  macOS: brew install redis',
  );
  process.exit(1);
}

const children: { name: string; proc: ChildProcess }[] = [];
const dataDir = mkdtempSync(join(tmpdir(), 'relaycast-cluster-'));
let stopping = false;

function start(name: string, cmd: string, args: string[]): ChildProcess {
  const proc = spawn(cmd, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RELAYCAST_BANNER: '0' },
  });
  children.push({ name, proc });
  const prefix = (line: string) => (line ? `[${name}] ${line}\n` : '');
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
    if (process.env.RELAYCAST_CLUSTER_VERBOSE) process.stdout.write(d.split('\n').map(prefix).join(''));
  });
  proc.stderr
    ?.setEncoding('utf8')
    .on('data', (d: string) => process.stderr.write(d.split('\n').map(prefix).join('')));
  proc.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`[${name}] exited (${code ?? signal}); stopping the cluster`);
      void stop(1);
    }
  });
  return proc;
}

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const { proc } of [...children].reverse()) if (proc.exitCode === null) proc.kill('SIGTERM');
  const deadline = Date.now() + 6000;
  while (
    children.some((c) => c.proc.exitCode === null && c.proc.signalCode === null) &&
    Date.now() < deadline
  )
    await new Promise((r) => setTimeout(r, 100));
  for (const { proc } of children)
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

async function waitReady(url: string, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not become ready at ${url}`);
}

const redisPort = port(6390);
start('redis', 'redis-server', [
  '--port',
  String(redisPort),
  '--bind',
  '127.0.0.1',
  '--save',
  '',
  '--appendonly',
  'no',
  '--dir',
  dataDir,
]);
const redisUrl = `redis://127.0.0.1:${redisPort}`;
const node = process.execPath;
const cli = join(root, 'cli', 'main.ts');
const common = [
  '--redis-url',
  redisUrl,
  '--host',
  '127.0.0.1',
  '--advertise-host',
  '127.0.0.1',
  '--log-level',
  process.env.RELAYCAST_LOG_LEVEL ?? 'info',
];
await new Promise((r) => setTimeout(r, 300));

const origins = [
  { id: 'origin-1', rtmp: port(1935), internal: port(8081), admin: port(9091) },
  { id: 'origin-2', rtmp: port(1936), internal: port(8082), admin: port(9092) },
];
const edges = [
  { id: 'edge-1', http: port(8080), rtmp: port(1945), admin: port(9093) },
  { id: 'edge-2', http: port(8090), rtmp: port(1946), admin: port(9094) },
];
const cp = { id: 'control-plane-1', grpc: port(50051), admin: port(9095) };
start(cp.id, node, [
  cli,
  'control-plane',
  ...common,
  '--node-id',
  cp.id,
  '--grpc-port',
  String(cp.grpc),
  '--admin-port',
  String(cp.admin),
  '--rtmp-port',
  '0',
  '--http-port',
  '0',
  '--internal-port',
  '0',
]);
for (const o of origins)
  start(o.id, node, [
    cli,
    'origin',
    ...common,
    '--node-id',
    o.id,
    '--rtmp-port',
    String(o.rtmp),
    '--internal-port',
    String(o.internal),
    '--admin-port',
    String(o.admin),
    '--http-port',
    '0',
    '--grpc-port',
    '0',
  ]);
for (const e of edges)
  start(e.id, node, [
    cli,
    'edge',
    ...common,
    '--node-id',
    e.id,
    '--http-port',
    String(e.http),
    '--rtmp-port',
    String(e.rtmp),
    '--admin-port',
    String(e.admin),
    '--internal-port',
    '0',
    '--grpc-port',
    '0',
    '--control-plane',
    `127.0.0.1:${cp.grpc}`,
  ]);

try {
  await waitReady(`http://127.0.0.1:${cp.admin}/readyz`, cp.id);
  for (const o of origins) await waitReady(`http://127.0.0.1:${o.admin}/readyz`, o.id);
  for (const e of edges) await waitReady(`http://127.0.0.1:${e.admin}/readyz`, e.id);
} catch (err) {
  console.error((err as Error).message);
  await stop(1);
}

console.log(`
relaycast local cluster is up: redis ${redisUrl}, a control plane, 2 origins, 2 edges
  publish (OBS server): rtmp://127.0.0.1:${origins[0]!.rtmp}/live   key: test   (origin-2: rtmp://127.0.0.1:${origins[1]!.rtmp}/live)
  ffmpeg:   ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine -c:v libx264 -g 30 -c:a aac -f flv rtmp://127.0.0.1:${origins[0]!.rtmp}/live/test
  play:     http://127.0.0.1:${edges[0]!.http}/live/test.flv    http://127.0.0.1:${edges[1]!.http}/live/test.flv
            http://127.0.0.1:${edges[0]!.http}/live/test.m3u8   rtmp://127.0.0.1:${edges[0]!.rtmp}/live/test
  player:   http://127.0.0.1:${edges[0]!.http}/play/live/test
  channels: npx relaycast channel create studio --backup --control-plane 127.0.0.1:${cp.grpc}
            (publish with the printed key; a backup key on the other origin takes over when the primary stops)
  admin:    ${[cp, ...origins, ...edges].map((n) => `${n.id} http://127.0.0.1:${n.admin}/metrics`).join('\n            ')}
  Ctrl-C stops everything. RELAYCAST_CLUSTER_VERBOSE=1 shows every process's logs.
`);
