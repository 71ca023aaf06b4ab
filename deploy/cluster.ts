/**
 * `npm run cluster`: a local cluster as separate processes — redis-server, a control plane,
 * 2 origins, 2 edges — on distinct ports. Prints the publish and play URLs; Ctrl-C stops
 * everything it started (by PID). Once it is up, a node that dies (try `kill -9` on an origin)
 * leaves the others running, so failover can be watched; `npm run cluster -- --restart origin-1`
 * from another terminal starts it again (deploy/supervisor.ts does the process handling).
 *
 * Ports: redis 6390; control plane gRPC 50051, admin 9095; origins RTMP 1935/1936, internal
 * 8081/8082, admin 9091/9092; edges HTTP 8080/8090, RTMP play 1945/1946, admin 9093/9094. Override the base with
 * RELAYCAST_CLUSTER_PORT_OFFSET (added to every port).
 *
 * Data: ./data/cluster (RELAYCAST_CLUSTER_DATA_DIR) holds Redis's data (redis/, kept across runs
 * unless --fresh) and cluster.json (the launcher's and each node's PID, while it runs).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ClusterSupervisor,
  launcherRunning,
  type NodeSpec,
  requestRestart,
  statePath,
} from './supervisor.ts';

const USAGE = `usage: npm run cluster [-- --fresh | --restart <node> | --help]

Starts redis-server, a control plane, 2 origins and 2 edges as separate processes on this machine
and prints the publish and play URLs. Ctrl-C (or SIGTERM) stops them all. A node that dies once the
cluster is up leaves the others running; redis dying, or every node dying, stops the cluster.

  --restart <node>  ask the cluster running from the same data directory to restart one node
                    (redis, control-plane-1, origin-1, origin-2, edge-1, edge-2) with the same
                    command and args, and wait until it is ready
  --fresh           wipe Redis's data (<data dir>/redis) before starting
  --help            this text

environment:
  RELAYCAST_CLUSTER_PORT_OFFSET  added to every port (e.g. 10000 to run beside npm start)
  RELAYCAST_CLUSTER_DATA_DIR     data directory (default ./data/cluster in the repository)
  RELAYCAST_CLUSTER_VERBOSE=1    show every process's logs, not only their stderr
  RELAYCAST_LOG_LEVEL            the nodes' --log-level (default info)`;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = resolve(process.env.RELAYCAST_CLUSTER_DATA_DIR || join(root, 'data', 'cluster'));
const redisDir = join(dataDir, 'redis');

function usageError(message: string): never {
  console.error(`npm run cluster: ${message}; see npm run cluster -- --help (RC_CONFIG_INVALID)`);
  process.exit(2);
}

let fresh = false;
let restart: string | undefined;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i]!;
  if (arg === '--help' || arg === '-h') {
    console.log(USAGE);
    process.exit(0);
  } else if (arg === '--fresh') fresh = true;
  else if (arg === '--restart' || arg.startsWith('--restart=')) {
    restart = arg === '--restart' ? argv[++i] : arg.slice('--restart='.length);
    if (!restart) usageError('--restart needs a node name, e.g. --restart origin-1');
  } else usageError(`unknown flag '${arg}'`);
}
if (restart !== undefined) {
  if (fresh) usageError('--fresh only applies when starting a cluster, not with --restart');
  process.exit(await requestRestart(dataDir, restart));
}

const offset = Number(process.env.RELAYCAST_CLUSTER_PORT_OFFSET ?? 0);
if (!Number.isInteger(offset) || offset < 0 || offset + 50051 > 65535)
  usageError(
    `RELAYCAST_CLUSTER_PORT_OFFSET=${process.env.RELAYCAST_CLUSTER_PORT_OFFSET} is not a whole number from 0 to 15484`,
  );
const port = (p: number) => p + offset;

if (spawnSync('redis-server', ['--version']).error) {
  console.error(
    'npm run cluster needs redis-server, which is not installed.\n' +
      '  Debian/Ubuntu: sudo apt-get install redis-server   (or: bash .ci/install-deps.sh as root)\n' +
      '  macOS: brew install redis',
  );
  process.exit(1);
}
const running = await launcherRunning(dataDir);
if (running) {
  console.error(
    `npm run cluster: a cluster is already running from ${dataDir} (launcher pid ${running.pid}); stop it with Ctrl-C in its terminal or kill ${running.pid}, or set RELAYCAST_CLUSTER_DATA_DIR for a second one (RC_CONFLICT)`,
  );
  process.exit(1);
}
if (fresh) rmSync(redisDir, { recursive: true, force: true });
mkdirSync(redisDir, { recursive: true });

const cluster = new ClusterSupervisor(dataDir, Boolean(process.env.RELAYCAST_CLUSTER_VERBOSE));
process.on('SIGINT', () => void cluster.stop(0));
process.on('SIGTERM', () => void cluster.stop(0));
await cluster.listen();

const redisPort = port(6390);
const redisUrl = `redis://127.0.0.1:${redisPort}`;
// append-only file in a named directory: channels and keys survive a restart of the cluster
const redis: NodeSpec = {
  name: 'redis',
  command: 'redis-server',
  args: [
    '--port',
    String(redisPort),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'yes',
    '--dir',
    redisDir,
  ],
  ready: { tcp: redisPort },
  essential: true,
  cwd: root,
};

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
// a node exits by itself if the launcher is killed outright (kill -9), rather than hold its ports
const env = { RELAYCAST_BANNER: '0', RELAYCAST_EXIT_WITH_PARENT: '1' };
const relaycast = (name: string, role: string, admin: number, args: string[]): NodeSpec => ({
  name,
  command: process.execPath,
  args: [cli, role, ...common, '--node-id', name, '--admin-port', String(admin), ...args],
  ready: { http: `http://127.0.0.1:${admin}/readyz` },
  cwd: root,
  env,
});

const origins = [
  { id: 'origin-1', rtmp: port(1935), internal: port(8081), admin: port(9091) },
  { id: 'origin-2', rtmp: port(1936), internal: port(8082), admin: port(9092) },
];
const edges = [
  { id: 'edge-1', http: port(8080), rtmp: port(1945), admin: port(9093), webrtc: port(8189) },
  { id: 'edge-2', http: port(8090), rtmp: port(1946), admin: port(9094), webrtc: port(8190) },
];
const cp = { id: 'control-plane-1', grpc: port(50051), admin: port(9095) };
const nodes: NodeSpec[] = [
  relaycast(cp.id, 'control-plane', cp.admin, [
    '--grpc-port',
    String(cp.grpc),
    '--rtmp-port',
    '0',
    '--http-port',
    '0',
    '--internal-port',
    '0',
  ]),
  ...origins.map((o) =>
    relaycast(o.id, 'origin', o.admin, [
      '--rtmp-port',
      String(o.rtmp),
      '--internal-port',
      String(o.internal),
      '--http-port',
      '0',
      '--grpc-port',
      '0',
    ]),
  ),
  ...edges.map((e) =>
    relaycast(e.id, 'edge', e.admin, [
      '--http-port',
      String(e.http),
      '--rtmp-port',
      String(e.rtmp),
      '--webrtc-udp-port',
      String(e.webrtc),
      '--internal-port',
      '0',
      '--grpc-port',
      '0',
      '--control-plane',
      `127.0.0.1:${cp.grpc}`,
      // both edges share this machine: one process each (--workers auto would fork per core twice)
      '--workers',
      '1',
    ]),
  ),
];

try {
  cluster.start(redis);
  await cluster.waitReady(redis.name);
  for (const n of nodes) cluster.start(n);
  for (const n of nodes) await cluster.waitReady(n.name);
} catch (err) {
  console.error(`npm run cluster: ${(err as Error).message}; stopping the cluster`);
  await cluster.stop(1);
}
cluster.markUp();

const pidOf = (name: string) => `pid ${cluster.pid(name)}`;
console.log(`
relaycast local cluster is up: redis ${redisUrl}, a control plane, 2 origins, 2 edges
  publish (OBS server): rtmp://127.0.0.1:${origins[0]!.rtmp}/live   key: test   (origin-2: rtmp://127.0.0.1:${origins[1]!.rtmp}/live)
  ffmpeg:   ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine -c:v libx264 -g 30 -c:a aac -f flv rtmp://127.0.0.1:${origins[0]!.rtmp}/live/test
  play:     http://127.0.0.1:${edges[0]!.http}/live/test.flv    http://127.0.0.1:${edges[1]!.http}/live/test.flv
            http://127.0.0.1:${edges[0]!.http}/live/test.m3u8   rtmp://127.0.0.1:${edges[0]!.rtmp}/live/test
  player:   http://127.0.0.1:${edges[0]!.http}/play/live/test
  channels: npx relaycast channel create studio --backup --control-plane 127.0.0.1:${cp.grpc}
            (publish with the printed key; a backup key on the other origin takes over when the primary stops)
  admin:    ${[cp, ...origins, ...edges].map((n) => `${n.id} ${pidOf(n.id)} http://127.0.0.1:${n.admin}/metrics`).join('\n            ')}
  redis:    ${pidOf('redis')}, data in ${redisDir} (kept across runs; --fresh wipes it)
  state:    ${statePath(dataDir)} (every node's PID)
  failover: kill -9 ${cluster.pid('origin-1')} stops origin-1 and leaves the rest running; republish to origin-2,
            then: npm run cluster -- --restart origin-1
  Ctrl-C stops everything. RELAYCAST_CLUSTER_VERBOSE=1 shows every process's logs.
`);
