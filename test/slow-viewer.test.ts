/**
 * Viewers on a real WAN path: the viewer runs inside a network namespace whose veth is shaped with
 * `tc … netem` (a rate and a round-trip delay), so its connection has a bandwidth-delay product
 * instead of loopback's huge kernel buffers. A synthetic RTMP publisher sends a 10 Mbit/s stream
 * with a 12 s GOP, and a viewer joins when the GOP cache holds ≥ 12 MB.
 *
 * What must hold: on a 100 Mbit/s, 40 ms RTT link the joiner drains its burst and keeps playing
 * (no skip, no drop); on a 3 Mbit/s link, truly too slow for the stream, it is skipped or dropped,
 * and the metrics say so. Needs root and tc; skipped otherwise. Where the kernel has no sch_netem
 * the link gets its rate from tbf and no added delay (the test logs which one it used).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { RtmpClient } from '../media/rtmp/client.ts';
import { createNetns, type Netns, netnsSkipReason } from './helpers/netns.ts';
import {
  killAll,
  NODE,
  type RelaycastProcess,
  startRelaycast,
  stopProcess,
  track,
  waitFor,
} from './helpers/process.ts';

const FRAME_MS = 40; // 25 fps
const FRAME_BYTES = 50_000; // 1.25 MB/s = 10 Mbit/s
const GOP_FRAMES = 300; // 12 s GOP (OBS keyframe interval 'auto' is about 8 s), 15 MB when full

/** Counts the bytes of one HTTP-FLV response; prints one JSON line when the time is up or it closes. */
const VIEWER = `
const net = require('node:net');
const u = new URL(process.argv[1]);
const t0 = Date.now();
let bytes = 0, endedAtMs = -1;
const s = net.connect({ host: u.hostname, port: Number(u.port) }, () =>
  s.write('GET ' + u.pathname + ' HTTP/1.0\\r\\nHost: ' + u.host + '\\r\\n\\r\\n'));
s.on('data', (d) => { bytes += d.length; });
s.on('error', () => {});
const done = () => { console.log(JSON.stringify({ bytes, endedAtMs, ms: Date.now() - t0 })); process.exit(0); };
s.on('close', () => { endedAtMs = Date.now() - t0; done(); });
setTimeout(done, Number(process.argv[2]));
`;

interface ViewerResult {
  bytes: number;
  endedAtMs: number;
  ms: number;
}

function viewerInNamespace(
  net: Netns,
  url: string,
  forMs: number,
): { proc: ChildProcess; result: Promise<ViewerResult> } {
  const p = track(spawn(net.exec[0]!, [...net.exec.slice(1), NODE, '-e', VIEWER, url, String(forMs)]));
  let out = '';
  let err = '';
  p.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  p.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const result = new Promise<ViewerResult>((resolve, reject) => {
    const timer = setTimeout(() => p.kill('SIGKILL'), forMs + 20_000);
    p.once('exit', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as ViewerResult);
      } catch {
        reject(new Error(`viewer in namespace printed ${JSON.stringify(out)}; stderr ${err}`));
      }
    });
  });
  return { proc: p, result };
}

/** Sum of a counter or gauge over its label sets (optionally only lines matching `labels`). */
function metricSum(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

const skip = netnsSkipReason(true);

describe('viewers on a shaped WAN link (netns + netem)', { timeout: 300_000, skip: skip ?? false }, () => {
  let net: Netns;
  let rc: RelaycastProcess;
  let publisher: RtmpClient;
  let pacer: NodeJS.Timeout | undefined;
  const metrics = async () => (await fetch(`http://${net.hostIp}:${rc.ports.admin}/metrics`)).text();
  const flvUrl = () => `http://${net.hostIp}:${rc.ports.http}/live/big.flv`;

  before(async () => {
    net = createNetns('sv');
    rc = await startRelaycast('all', [], {}, undefined, { host: net.hostIp });
    publisher = await RtmpClient.open(net.hostIp, rc.ports.rtmp);
    await publisher.connect('live');
    const sid = await publisher.createStream();
    await publisher.publish(sid, 'big');
    publisher.setChunkSize(65536);
    // Legacy AVC sequence header, then frames: the hub reads only the FLV video tag header.
    publisher.sendMedia(sid, 9, 0, Buffer.from([0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff]));
    const frame = Buffer.alloc(FRAME_BYTES, 0x5a);
    const t0 = performance.now();
    let n = 0;
    pacer = setInterval(() => {
      // Catch up on the wall clock, so the rate holds even when this process is slow to wake.
      const due = Math.floor((performance.now() - t0) / FRAME_MS);
      for (; n <= due; n++) {
        frame.set(n % GOP_FRAMES === 0 ? [0x17, 0x01, 0, 0, 0] : [0x27, 0x01, 0, 0, 0]);
        publisher.sendMedia(sid, 9, n * FRAME_MS, frame);
      }
    }, FRAME_MS);
  });

  after(async () => {
    if (pacer) clearInterval(pacer);
    publisher?.close();
    await rc?.stop();
    await killAll();
    net?.teardown();
  });

  it('a joiner on 100 Mbit/s (40 ms RTT where netem exists) drains a 12 MB GOP burst and is neither skipped nor dropped', async (t) => {
    t.diagnostic(net.shape(100, 40));
    await waitFor(
      'a GOP cache of 12 MB',
      async () =>
        metricSum(await metrics(), 'relaycast_gop_cache_bytes', 'stream="big"') >= 12_000_000
          ? true
          : undefined,
      60_000,
      100,
    );
    const watchMs = 15_000;
    const result = await viewerInNamespace(net, flvUrl(), watchMs).result;
    const text = await metrics();
    assert.equal(result.endedAtMs, -1, `connection stayed open (closed after ${result.endedAtMs} ms)`);
    // The burst plus at least half the stream's bytes over the watch time (generous: shared machine).
    const expected = 12_000_000 + (watchMs / 1000) * 1_250_000 * 0.5;
    assert.ok(result.bytes >= expected, `received ${result.bytes} bytes, expected ≥ ${expected}`);
    assert.equal(metricSum(text, 'relaycast_viewer_skips_total'), 0, 'no skips');
    assert.equal(metricSum(text, 'relaycast_viewer_drops_total', 'reason="slow"'), 0, 'no slow drops');
  });

  it('a joiner on a 3 Mbit/s link, too slow for the 10 Mbit/s stream, is skipped or dropped', async (t) => {
    t.diagnostic(net.shape(3, 40));
    const before = await metrics();
    const skipsBefore = metricSum(before, 'relaycast_viewer_skips_total');
    const dropsBefore = metricSum(before, 'relaycast_viewer_drops_total', 'reason="slow"');
    const viewer = viewerInNamespace(net, flvUrl(), 60_000);
    await waitFor(
      'the slow viewer to be skipped or dropped',
      async () => {
        const text = await metrics();
        return metricSum(text, 'relaycast_viewer_skips_total') > skipsBefore ||
          metricSum(text, 'relaycast_viewer_drops_total', 'reason="slow"') > dropsBefore
          ? true
          : undefined;
      },
      60_000,
      250,
    );
    await stopProcess(viewer.proc, 'SIGKILL');
    await viewer.result.catch(() => undefined);
  });
});
