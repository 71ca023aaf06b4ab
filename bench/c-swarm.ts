/**
 * `npm run bench`: the HTTP-FLV fan-out measured with the project's C viewer swarm
 * (bench/flv-swarm.c), which costs a fraction of the server's CPU, so the figures are the
 * server's limit and not the client's (the Node swarm of bench/run.ts runs out near 2000 viewers).
 *
 * Builds the swarm with gcc when its binary is missing or older than the source, starts
 * `relaycast all` as a process-group leader (so --workers children are measured with it),
 * publishes the cached test stream in real time, runs the swarm (which first warms the server up
 * with 100 viewers: a JIT-cold Node process is not what runs for days) and prints one JSON line.
 * `--table` runs the README's set, one fresh server and one JSON line per row.
 *
 *   npm run bench [-- --viewers N --kbps 2650|1000 --workers N --protocol flv|hls|llhls]
 *
 * `--protocol hls` plays the MPEG-TS variant (flv-swarm --hls), `--protocol llhls` the LL-HLS
 * playlist /live/bench.m3u8 (flv-swarm --llhls: blocking reloads and preload-hinted parts on two
 * connections per viewer, as hls.js does; a much cheaper client than bench/llhls-swarm.ts).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { benchArgs } from './args.ts';
import { originForEdge } from './cluster-lib.ts';
import {
  buildSwarm,
  children,
  killChildren,
  machine,
  publishLoop,
  startBenchServer,
  tcpCounters,
  testStream,
  withFdLimit,
} from './lib.ts';
import { histogramQuantile } from './prom.ts';

process.on('SIGINT', () => process.exit(130));

const { values } = benchArgs(
  import.meta.filename,
  `npm run bench [-- --viewers 5000 (llhls: 1000) --kbps 2650|1000 --workers N --protocol flv|hls|llhls --via all|edge]
npm run bench:table

HTTP-FLV fan-out with the C viewer swarm (bench/flv-swarm.c, built with gcc into bench/.cache/):
starts relaycast all (its own process group, so --workers children count), publishes the cached
test stream (2.65 or 1 Mbit/s) in real time, warms the server up with 100 viewers for --warmup
seconds, ramps --viewers at --ramp per second, holds them for --duration seconds and prints one
JSON line: the swarm's figures (connected, healthy = >= --min-kbps over the last --window seconds,
TTFB of every viewer, TTFK and lag of every --probe-every'th viewer, server CPU and RSS over the
steady state, the swarm's own CPU) plus the server's skip/drop counters and the machine's load.
The default run (5000 viewers) takes about 50 s (plus a one-time encode of the test stream).

--cross-check BIN then runs BIN (a reference swarm taking cswarm's flags: --url -n --ramp
--duration --min-kbps --window --probe-every --pid) against the same server, and prints its line
too, so the two clients' figures can be compared on one server.

--protocol hls: the same with HLS viewers (flv-swarm --hls) of the MPEG-TS variant (.ts.m3u8):
each polls the playlist as hls.js does and fetches every new segment once on one keep-alive
connection; the line has playlist and segment response times (p50/p95/p99/max), missed segments
and healthy viewers (no error, nothing missed, a segment within 3 target durations).

--protocol llhls: LL-HLS viewers (flv-swarm --llhls) of /live/bench.m3u8 (the server's default
--hls-variant llhls, parts of --hls-part-target 0.333 s): each plays it as hls.js does, on two
keep-alive connections: the playlist, the last 3 listed parts, then a loop of a blocking reload
(_HLS_msn/_HLS_part) and a GET of the preload-hinted part in parallel. The line has
reloadAfterPartMs (reload complete - hinted part complete, per turn), playlistMs (blocking reload
sent -> complete), firstPartMs, parts, gaps (turns whose part was not the next one: the viewer fell
a part behind), errors by kind in failures, and healthy viewers (no error, parts and no gap in the
last --window seconds, a part within the last 1 s). Each viewer makes ~8 requests a second, so
--viewers defaults to 1000 here, not 5000. Measured on a 2-core AMD EPYC (25 s runs): 1000 viewers
all healthy, reloadAfterPartMs p99 88 ms, server 68 % of a core, this swarm 15 %; 1500 all
healthy, p99 126 ms, server 102 %, swarm 23 %; 2000 past the server's limit (523 healthy, gaps in
1477 viewers, p99 226 ms, server 134 %, swarm 30 %); 5000 lost half its viewers to time-outs.

--via edge: the viewers play from an edge (the node measured) that pulls the stream from an origin
(another process, not measured) over a local redis-server; default all: one all-in-one.

--table runs 1000, 2000, 4000 and 5000 viewers at 2.65 Mbit/s and 10000 at 1 Mbit/s, a fresh
server for each, one JSON line per row: about 4 minutes on a 2-core machine (plus a one-time
encode of the 1 Mbit/s test stream).`,
  {
    viewers: { type: 'string' }, // 5000; 1000 with --protocol llhls
    via: { type: 'string', default: 'all' },
    ramp: { type: 'string', default: '500' },
    duration: { type: 'string', default: '25' },
    kbps: { type: 'string', default: '2650' },
    'min-kbps': { type: 'string' },
    window: { type: 'string', default: '10' },
    'probe-every': { type: 'string', default: '50' },
    warmup: { type: 'string', default: '5' },
    workers: { type: 'string', default: 'auto' }, // the server's default
    protocol: { type: 'string', default: 'flv' },
    table: { type: 'boolean' },
    'cross-check': { type: 'string' },
  },
);

if (values.table) {
  // One child per row, so every row starts from a fresh server and its own process group.
  const rows: [string, string][] = [
    ['1000', '2650'],
    ['2000', '2650'],
    ['4000', '2650'],
    ['5000', '2650'],
    ['10000', '1000'],
  ];
  for (const [viewers, kbps] of rows) {
    const child = spawn(
      process.execPath,
      [
        import.meta.filename,
        ...['--viewers', viewers, '--kbps', kbps, '--workers', String(values.workers)],
        ...['--ramp', String(values.ramp), '--duration', String(values.duration)],
        ...['--window', String(values.window), '--probe-every', String(values['probe-every'])],
        ...['--warmup', String(values.warmup)],
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    children.push(child);
    await once(child, 'exit');
  }
  process.exit(0);
}

const viewers = Number(values.viewers ?? (values.protocol === 'llhls' ? 1000 : 5000));
const kbps = Number(values.kbps) === 1000 ? 1000 : 2650;
const protocol = values.protocol as 'flv' | 'hls' | 'llhls';
if (!['flv', 'hls', 'llhls'].includes(protocol)) {
  console.error(`c-swarm.ts: --protocol is flv, hls or llhls, not ${values.protocol}`);
  process.exit(2);
}
const flv = protocol === 'flv';
const hls = protocol === 'hls';
const llhls = protocol === 'llhls';
// healthy: at least ~75 % of the stream's rate over the window
const minKbps = values['min-kbps'] ?? (kbps === 2650 ? '2000' : '750');
const bin = buildSwarm();
const file = testStream(kbps);
if (values.via !== 'all' && values.via !== 'edge') {
  console.error(`c-swarm.ts: --via is all or edge, not ${values.via}`);
  process.exit(2);
}
const via = values.via;
// --via edge: the stream is published to an origin; the edge under test pulls it.
const { origin, edgeArgs } = await originForEdge(via);
const { server, rtmp, http, admin } = await startBenchServer(
  [],
  ['--workers', String(values.workers), ...edgeArgs],
  via,
  { processGroup: true },
);
// LL-HLS: what /<app>/<name>.m3u8 serves by default (--hls-variant llhls), as the banner says
const url = `http://127.0.0.1:${http}/live/bench.${hls ? 'ts.m3u8' : llhls ? 'm3u8' : 'flv'}`;
children.push(publishLoop(file, `rtmp://127.0.0.1:${origin?.rtmp ?? rtmp}/live/bench`));
// Bounded wait until the stream plays (200 once it is live).
const liveBy = Date.now() + 20_000;
for (;;) {
  if (Date.now() > liveBy) {
    console.error(
      'c-swarm.ts: the test stream did not go live within 20 s; check that ffmpeg is installed and relaycast starts (npm start)',
    );
    process.exit(1);
  }
  try {
    // HEAD for the FLV stream; a playlist is small enough to GET (it exists once segments do);
    // an LL-HLS one is live once it has a preload hint (before that it may be the MPEG-TS fallback)
    const res = await fetch(url, hls || llhls ? {} : { method: 'HEAD' });
    const text = llhls ? await res.text() : '';
    if (!llhls) await res.body?.cancel();
    if (res.ok && (!llhls || text.includes('#EXT-X-PRELOAD-HINT:TYPE=PART'))) break;
  } catch {
    /* not yet */
  }
  await new Promise((r) => setTimeout(r, 250));
}

const common = [
  '--url',
  url,
  '--ramp',
  String(values.ramp),
  '--duration',
  String(values.duration),
  '--min-kbps',
  minKbps,
  '--window',
  String(values.window),
  '--probe-every',
  String(values['probe-every']),
  '--pid',
  String(server.pid),
];
await measure('flv-swarm.c', [
  bin,
  ...(hls ? ['--hls'] : llhls ? ['--llhls'] : []),
  ...common,
  '--viewers',
  String(viewers),
  '--warmup',
  String(values.warmup),
]);
// the server is warm by now: the reference runs without a warm-up of its own
if (values['cross-check'])
  await measure(values['cross-check'], [values['cross-check'], ...common, '-n', String(viewers)]);

/** Runs one swarm against the server and prints its JSON line with the server's counters. */
async function measure(client: string, argv: string[]): Promise<void> {
  const tcp0 = tcpCounters();
  const swarm = withFdLimit(argv);
  let out = '';
  swarm.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  // each thread's event-loop lag, scraped once a second (each scrape restarts the figures): the
  // server's side of a slow response, next to the swarm's view of it
  const lag = { main: 0, workers: new Map<string, number>(), over50msAtS: [] as number[] };
  const t0 = performance.now();
  let exited = false;
  const sampler = (async () => {
    while (!exited) {
      await new Promise((r) => setTimeout(r, 1000));
      const text = await fetch(`http://127.0.0.1:${admin}/metrics`)
        .then((r) => r.text())
        .catch(() => '');
      let worst = 0;
      for (const l of text.split('\n')) {
        const v = Number(l.split(' ').pop()) * 1000;
        if (l.startsWith('relaycast_nodejs_eventloop_lag_max_seconds')) lag.main = Math.max(lag.main, v);
        else if (l.startsWith('relaycast_worker_eventloop_lag_max_seconds{')) {
          const w = /worker="([^"]*)"/.exec(l)?.[1] ?? '?';
          lag.workers.set(w, Math.max(lag.workers.get(w) ?? 0, v));
        } else continue;
        worst = Math.max(worst, v);
      }
      if (worst > 50) lag.over50msAtS.push(Math.round((performance.now() - t0) / 1000));
    }
  })();
  const [code] = (await once(swarm, 'exit')) as [number | null];
  exited = true;
  await sampler;
  const tcp1 = tcpCounters();
  const line = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) {
    console.error(`c-swarm.ts: ${client} exited ${code} without a result; see its message above`);
    process.exit(1);
  }
  const result = JSON.parse(line) as Record<string, unknown>;
  const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  const counter = (name: string) =>
    metrics
      .split('\n')
      .filter((l) => l.startsWith(name))
      .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
  console.log(
    JSON.stringify({
      bench: hls ? 'fanout-hls' : llhls ? 'fanout-llhls' : 'fanout-http-flv',
      client,
      viewers,
      via,
      streamKbps: kbps,
      rampPerS: Number(values.ramp),
      durationS: Number(values.duration),
      workers: values.workers,
      ...result,
      // counters since the server started (a cross-check's line includes the first run's)
      serverSkips: counter('relaycast_viewer_skips_total'),
      // the server's own view: from the request routed to its first keyframe written, as the
      // histogram's bucket bound it is under (its smallest bucket is 5 ms), so a long client-side
      // figure can be told from a long server-side one
      serverFirstKeyframeMsAtMost: !flv
        ? undefined
        : Object.fromEntries(
            [0.5, 0.95, 0.99].map((q) => {
              const s = histogramQuantile(
                metrics,
                'relaycast_viewer_time_to_first_frame_seconds',
                'protocol="flv"',
                q,
                false,
              );
              return [`p${Math.round(q * 100)}`, s === null ? null : Math.round(s * 1000)];
            }),
          ),
      serverDrops: counter('relaycast_viewer_drops_total'),
      // the longest event-loop delay of the main thread and of each viewer thread during the run
      // (includes the warm-up and the ramp), and when any of them exceeded 50 ms: seconds since
      // the swarm started (its warm-up, then the ramp of viewers / ramp-per-s seconds)
      serverEventLoopLagMaxMs: {
        main: Math.round(lag.main),
        ...Object.fromEntries([...lag.workers].sort().map(([w, v]) => [`worker${w}`, Math.round(v)])),
        over50msAtS: lag.over50msAtS,
      },
      // machine-wide kernel counters during the run (accept queue full → refused connections)
      listenOverflows: tcp1.listenOverflows - tcp0.listenOverflows,
      syncookiesFailed: tcp1.syncookiesFailed - tcp0.syncookiesFailed,
      machine: machine(),
    }),
  );
}
killChildren();
process.exit(0);
