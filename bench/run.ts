/**
 * Fan-out benchmark: starts relaycast (all-in-one), publishes the cached test stream in real time,
 * runs a viewer swarm in a separate process, samples the server's CPU and RSS from /proc during
 * the steady state, and prints one JSON line.
 *
 *   node bench/run.ts --viewers 1000 --duration 20 [--kbps 2650|1000] [--slow-fraction 0.1]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { machine, publishLoop, ROOT, sampleProcess, testStream } from './lib.ts';

const { values } = parseArgs({
  options: {
    viewers: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '20' },
    ramp: { type: 'string', default: '5' },
    kbps: { type: 'string', default: '2650' },
    'slow-fraction': { type: 'string', default: '0' },
  },
});
const viewers = Number(values.viewers);
const durationS = Number(values.duration);
const rampS = Number(values.ramp);
const kbps = Number(values.kbps) === 1000 ? 1000 : 2650;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof a === 'object' && a ? a.port : 0;
}

const children: ChildProcess[] = [];
const cleanup = () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

/** Runs a command with a raised fd limit (thousands of sockets). */
function withFdLimit(args: string[]): ChildProcess {
  const cmd = `ulimit -n 65536 2>/dev/null || ulimit -n 16384; exec ${args.map((a) => `'${a}'`).join(' ')}`;
  const p = spawn('bash', ['-c', cmd], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(p);
  return p;
}

const file = testStream(kbps);
const [rtmp, http, admin] = [await freePort(), await freePort(), await freePort()];
process.env.RELAYCAST_BANNER = '0';
const server = withFdLimit([
  process.execPath,
  'cli/main.ts',
  'all',
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
]);
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
const publisher = publishLoop(file, `rtmp://127.0.0.1:${rtmp}/live/bench`);
children.push(publisher);
await new Promise((r) => setTimeout(r, 3000));

const swarm = withFdLimit([
  process.execPath,
  'bench/swarm.ts',
  '--url',
  `http://127.0.0.1:${http}/live/bench.flv`,
  '--viewers',
  String(viewers),
  '--ramp',
  String(rampS),
  '--duration',
  String(durationS),
  '--slow-fraction',
  String(values['slow-fraction']),
]);
let out = '';
swarm.stdout!.setEncoding('utf8').on('data', (d: string) => {
  out += d;
});
// steady state: after the ramp and a settling second, until just before the swarm ends
await new Promise((r) => setTimeout(r, (rampS + 2) * 1000));
// bash exec()s node, so the child's pid is the server's own.
const sample = await sampleProcess(server.pid!, Math.max(2000, (durationS - 3) * 1000));
await once(swarm, 'exit');
const result = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
const counter = (name: string) =>
  metrics
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
console.log(
  JSON.stringify({
    bench: 'fanout-http-flv',
    streamKbps: kbps,
    durationS,
    ...result,
    server: {
      ...sample,
      cpuPercentPer1000Viewers: Math.round((sample.cpuPercentOfCore / viewers) * 1000 * 10) / 10,
    },
    serverSkips: counter('relaycast_viewer_skips_total'),
    serverDrops: counter('relaycast_viewer_drops_total'),
    machine: machine(),
  }),
);
cleanup();
process.exit(0);
