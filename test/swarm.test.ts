/**
 * Small, fast runs of the benchmark swarms, asserting correctness only (never timing): 200 HTTP-FLV
 * viewers for 5 s (all connect, none fail or stall, all start on a keyframe), 50 RTMP viewers, 50
 * HLS viewers (all get segments, no errors), 10 publishers from the publisher swarm (all go
 * live) and 6 viewers of the C swarm bench/flv-swarm.c (all connect and stay, every probe finds a
 * keyframe through the chunked framing; --hls and --llhls viewers get every segment or part).
 * Figures: npm run bench.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildSwarm } from '../bench/lib.ts';
import {
  killAll,
  NODE,
  publish,
  type RelaycastProcess,
  ROOT,
  run,
  startRelaycast,
  waitFor,
} from './helpers/process.ts';

/** A swarm's JSON line (its last line of output), once it exited 0. */
function swarmResult<T = unknown>(r: {
  code: number | null;
  stdout: string;
  stderr: string;
}): Record<string, T> {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, T>;
}

describe('viewer swarm (correctness)', { timeout: 120_000 }, () => {
  let rc: RelaycastProcess;
  before(async () => {
    rc = await startRelaycast('all');
    publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/swarm`, { size: '640x360' });
    await waitFor(
      'stream live',
      async () =>
        (await fetch(`http://127.0.0.1:${rc.ports.http}/live/swarm.flv`, { method: 'HEAD' })).ok
          ? true
          : undefined,
      20_000,
      200,
    );
  });
  let tmp: string;
  let flvFile: Promise<string>;
  before(() => {
    // A short, small FLV for the publisher swarm (encoded while the other cases run).
    tmp = mkdtempSync(join(tmpdir(), 'relaycast-swarm-'));
    const file = join(tmp, 'short.flv');
    flvFile = run(
      'ffmpeg',
      [
        '-v',
        'error',
        '-y',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=320x240:rate=30',
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=440:sample_rate=44100',
        '-t',
        '4',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-g',
        '30',
        '-pix_fmt',
        'yuv420p',
        '-c:a',
        'aac',
        '-f',
        'flv',
        file,
      ],
      30_000,
    ).then((r) => {
      assert.equal(r.code, 0, r.stderr);
      return file;
    });
  });
  after(async () => {
    await killAll();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('200 viewers for 5 s: all connect, none stalled, all start on a keyframe', async () => {
    const r = await run(
      NODE,
      [
        join(ROOT, 'bench', 'swarm.ts'),
        '--url',
        `http://127.0.0.1:${rc.ports.http}/live/swarm.flv`,
        '--viewers',
        '200',
        '--ramp',
        '1',
        '--duration',
        '5',
      ],
      60_000,
    );
    const res = swarmResult<number>(r);
    assert.equal(res.connected, 200);
    assert.equal(res.failed, 0);
    assert.equal(res.stalled, 0);
    assert.equal(res.startedOnKeyframe, 200);
  });

  it('6 viewers of the C swarm (3 probes): all connect and stay, probes start on a keyframe', async () => {
    const r = await run(
      buildSwarm(),
      [
        '--url',
        `http://127.0.0.1:${rc.ports.http}/live/swarm.flv`,
        '--viewers',
        '6',
        '--probe-every',
        '2',
        '--ramp',
        '50',
        '--duration',
        '3',
        // correctness, not speed: any data at all over the window counts as healthy
        '--min-kbps',
        '1',
      ],
      60_000,
    );
    const res = swarmResult<unknown>(r);
    assert.equal(res.connected, 6, r.stdout);
    assert.equal(res.failed, 0, r.stdout);
    assert.equal(res.closedEarly, 0, r.stdout);
    assert.ok((res.healthy as number) > 0, r.stdout);
    assert.equal(res.probes, 3);
    assert.equal(res.probesStartedOnKeyframe, 3, r.stdout);
    assert.equal((res.ttfkMs as { n: number }).n, 3, r.stdout);
  });

  it('50 RTMP viewers: all connect, play and start on a keyframe', async () => {
    const r = await run(
      NODE,
      [
        join(ROOT, 'bench', 'rtmp-swarm.ts'),
        '--url',
        `rtmp://127.0.0.1:${rc.ports.rtmp}/live/swarm`,
        '--viewers',
        '50',
        '--ramp',
        '1',
        '--duration',
        '3',
        '--stall-ms',
        '5000',
      ],
      60_000,
    );
    const res = swarmResult<unknown>(r);
    assert.equal(res.connected, 50);
    assert.equal(res.failed, 0, JSON.stringify(res.failures));
    assert.equal(res.stalled, 0);
    assert.equal(res.startedOnKeyframe, 50);
  });

  it('50 HLS viewers: all fetch the playlist and segments, no errors', async () => {
    const r = await run(
      NODE,
      [
        join(ROOT, 'bench', 'hls-swarm.ts'),
        '--url',
        `http://127.0.0.1:${rc.ports.http}/live/swarm.m3u8`,
        '--viewers',
        '50',
        '--ramp',
        '1',
        '--duration',
        '4',
      ],
      60_000,
    );
    const res = swarmResult<unknown>(r);
    assert.equal(res.connected, 50);
    assert.equal(res.gotSegments, 50);
    assert.equal(res.errors, 0, JSON.stringify(res.failures));
    assert.equal(res.missedSegments, 0);
  });

  it('6 HLS viewers of the C swarm (--hls): all poll the playlist and fetch segments, none missed', async () => {
    const r = await run(
      buildSwarm(),
      [
        '--hls',
        '--url',
        `http://127.0.0.1:${rc.ports.http}/live/swarm.ts.m3u8`,
        '--viewers',
        '6',
        '--ramp',
        '50',
        '--duration',
        '4',
      ],
      60_000,
    );
    const res = swarmResult<unknown>(r);
    assert.equal(res.connected, 6, r.stdout);
    assert.equal(res.failed, 0, r.stdout);
    assert.equal(res.missedSegments, 0, r.stdout);
    // each starts 3 segments from the live edge, so at least 3 segments and 1 playlist apiece
    assert.ok((res.segmentsFetched as number) >= 18, r.stdout);
    assert.ok((res.playlistMs as { n: number }).n >= 6, r.stdout);
  });

  it('6 LL-HLS viewers of the C swarm (--llhls): all get parts by blocking reload and preload hint, no gap, no error', async () => {
    const url = `http://127.0.0.1:${rc.ports.http}/live/swarm.m3u8`; // LL-HLS: the default --hls-variant
    await waitFor(
      'LL-HLS playlist with a preload hint',
      async () =>
        (await (await fetch(url)).text()).includes('#EXT-X-PRELOAD-HINT:TYPE=PART') ? true : undefined,
      20_000,
      200,
    );
    const r = await run(
      buildSwarm(),
      ['--llhls', '--url', url, '--viewers', '6', '--ramp', '50', '--duration', '4', '--window', '3'],
      60_000,
    );
    const res = swarmResult<unknown>(r);
    assert.equal(res.connected, 6, r.stdout);
    assert.equal(res.failed, 0, r.stdout);
    assert.equal(res.errors, 0, r.stdout);
    assert.equal(res.gotParts, 6, r.stdout);
    assert.equal(res.gaps, 0, r.stdout);
    assert.equal(res.ended, 0, r.stdout);
    // each starts with the last 3 listed parts, then gets one part per blocking reload
    assert.ok((res.parts as number) >= 6 * 4, r.stdout);
    assert.ok((res.reloadAfterPartMs as { n: number }).n >= 6, r.stdout);
  });

  it('10 publishers from the publisher swarm: all publish and are listed live with ingest', async () => {
    const file = await flvFile;
    const swarm = run(
      NODE,
      [
        join(ROOT, 'bench', 'publish-swarm.ts'),
        '--url',
        `rtmp://127.0.0.1:${rc.ports.rtmp}/live`,
        '--publishers',
        '10',
        '--ramp',
        '1',
        '--duration',
        '9',
        '--file',
        file,
        '--prefix',
        'tpub',
      ],
      60_000,
    );
    // The admin API's rates come from a 2 s sampler: wait until every stream shows ingest.
    const live = await waitFor(
      '10 live streams with ingest',
      async () => {
        const res = await fetch(`http://127.0.0.1:${rc.ports.admin}/api/v1/streams`);
        const { streams } = (await res.json()) as {
          streams: { name: string; live: boolean; ingestKbps: number }[];
        };
        const ours = streams.filter((s) => s.name.startsWith('tpub') && s.live && s.ingestKbps > 0);
        return ours.length === 10 ? ours : undefined;
      },
      20_000,
      250,
    );
    assert.deepEqual(live.map((s) => s.name).sort(), [...Array(10).keys()].map((i) => `tpub${i}`).sort());
    const r = await swarm;
    const res = swarmResult<unknown>(r);
    assert.equal(res.publishing, 10);
    assert.equal(res.failed, 0, JSON.stringify(res.failures));
    assert.equal(res.liveAtEnd, 10);
  });
});
