/**
 * The cluster as separate processes: real redis-server, two origins, two edges, ffmpeg publishers
 * and players. Timings are reported, not asserted (see bench/ for figures); behaviour is asserted
 * with generous timeouts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isVideoSequenceHeader, type MediaTag, TAG_AUDIO, TAG_VIDEO } from '../media/tag.ts';
import { assertMonotonic, openFlv } from './helpers/flv-client.ts';
import {
  ffprobe,
  getJson,
  killAll,
  publish,
  type RelaycastProcess,
  run,
  startRelaycast,
  waitFor,
} from './helpers/process.ts';
import { type RedisServer, startRedis } from './helpers/redis.ts';

const isKeyframe = (t: MediaTag) =>
  t.type === TAG_VIDEO && t.data[0]! >> 4 === 1 && !isVideoSequenceHeader(t.data);

describe('cluster: redis + 2 origins + 2 edges', { timeout: 420_000 }, () => {
  let redis: RedisServer;
  let originA: RelaycastProcess;
  let originB: RelaycastProcess;
  let edge1: RelaycastProcess;
  let edge2: RelaycastProcess;
  const common = () => ['--redis-url', redis.url, '--lease-ttl', '2', '--advertise-host', '127.0.0.1'];

  before(async () => {
    redis = await startRedis();
    originA = await startRelaycast('origin', [
      ...common(),
      '--node-id',
      'origin-a',
      '--http-port',
      '0',
      '--grpc-port',
      '0',
    ]);
    originB = await startRelaycast('origin', [
      ...common(),
      '--node-id',
      'origin-b',
      '--http-port',
      '0',
      '--grpc-port',
      '0',
    ]);
    const edgeArgs = ['--internal-port', '0', '--grpc-port', '0', '--pull-idle-timeout', '2'];
    edge1 = await startRelaycast('edge', [...common(), '--node-id', 'edge-1', ...edgeArgs]);
    edge2 = await startRelaycast('edge', [...common(), '--node-id', 'edge-2', ...edgeArgs]);
  });
  after(async () => {
    await killAll();
  });

  const rtmp = (o: RelaycastProcess, name: string) => `rtmp://127.0.0.1:${o.ports.rtmp}/live/${name}`;
  const flv = (e: RelaycastProcess, name: string) => `http://127.0.0.1:${e.ports.http}/live/${name}.flv`;
  const pullsServed = async (o: RelaycastProcess) =>
    (await getJson<{ pullsServed: number }>(`http://127.0.0.1:${o.ports.admin}/api/v1/pulls`)).body
      .pullsServed;
  const originViewers = async (o: RelaycastProcess, name: string) => {
    const r = await getJson<{ viewers?: { total: number } }>(
      `http://127.0.0.1:${o.ports.admin}/api/v1/streams/live/${name}`,
    );
    return r.status === 200 ? (r.body.viewers?.total ?? 0) : 0;
  };
  const registered = (name: string, node: string) =>
    waitFor(
      `${name} registered by ${node}`,
      async () => {
        const r = await getJson<{ streams: { name: string; live: boolean }[] }>(
          `http://127.0.0.1:${edge1.ports.admin}/api/v1/registry`,
        );
        return r.body.streams.find(
          (s) => s.name === name && (s as unknown as { originNodeId: string }).originNodeId === node,
        );
      },
      20_000,
      200,
    );

  it('publish to origin A, play HTTP-FLV and HLS from both edges', async () => {
    publish(rtmp(originA, 'main'), { size: '640x360' });
    await registered('main', 'origin-a');
    for (const e of [edge1, edge2]) {
      const p = await ffprobe(flv(e, 'main'));
      assert.equal(p.streams.find((s) => s.codec_type === 'video')?.width, 640);
      const h = await waitFor(
        'HLS through the edge',
        async () => {
          const probe = await ffprobe(`http://127.0.0.1:${e.ports.http}/live/main.m3u8`).catch(
            () => undefined,
          );
          return probe?.streams.some((s) => s.codec_type === 'video') ? probe : undefined;
        },
        30_000,
        500,
      );
      assert.equal(h.streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');
    }
  });

  it('HLS through an edge: 200 concurrent requests for a segment cost one origin fetch', async () => {
    const m3u8 = `http://127.0.0.1:${edge2.ports.http}/live/main.ts.m3u8`;
    const text = await waitFor(
      'edge playlist',
      async () => {
        const r = await fetch(m3u8);
        return r.ok ? r.text() : undefined;
      },
      30_000,
      500,
    );
    const counter = async (result: string) => {
      const m = await (await fetch(`http://127.0.0.1:${edge2.ports.admin}/metrics`)).text();
      const line = m
        .split('\n')
        .find(
          (l) =>
            l.startsWith('relaycast_hls_requests_total{') &&
            l.includes('kind="segment"') &&
            l.includes(`result="${result}"`),
        );
      return line ? Number(line.split(' ').pop()) : 0;
    };
    // a segment nobody has fetched through this edge yet: one that appears after this playlist
    const uris = (t: string) => t.split('\n').filter((l) => l && !l.startsWith('#'));
    const seen = new Set(uris(text));
    const uri = await waitFor(
      'a new segment',
      async () => uris(await (await fetch(m3u8)).text()).find((u) => !seen.has(u)),
      15_000,
      100,
    );
    const missesBefore = await counter('miss');
    const bodies = await Promise.all(
      Array.from({ length: 200 }, () =>
        fetch(`http://127.0.0.1:${edge2.ports.http}/live/${uri}`).then(async (r) =>
          r.ok ? (await r.arrayBuffer()).byteLength : -1,
        ),
      ),
    );
    assert.ok(
      bodies.every((n) => n > 0 && n === bodies[0]),
      'all 200 got the same segment',
    );
    assert.equal((await counter('miss')) - missesBefore, 1, 'one origin fetch');
    assert.ok((await counter('coalesced')) + (await counter('hit')) >= 199);
  });

  it('200 simultaneous first viewers on one edge cause exactly one pull at the origin; all get media', async () => {
    publish(rtmp(originA, 'crowd'), { size: '320x240' });
    await registered('crowd', 'origin-a');
    const before = await pullsServed(originA);
    const reads = await Promise.all(Array.from({ length: 200 }, () => openFlv(flv(edge2, 'crowd'))));
    try {
      assert.ok(reads.every((r) => r.status === 200));
      await waitFor(
        'all 200 viewers to get a keyframe',
        () => (reads.every((r) => r.tags.some(isKeyframe)) ? true : undefined),
        30_000,
        200,
      );
      assert.equal((await pullsServed(originA)) - before, 1, 'one pull for 200 first viewers');
      assert.equal(await originViewers(originA, 'crowd'), 1, 'the origin sees one viewer: the edge');
    } finally {
      for (const r of reads) r.close();
    }
  });

  it('the pull closes after the grace period once the last viewer leaves', async () => {
    await waitFor(
      'origin viewer count to drop to 0',
      async () => ((await originViewers(originA, 'crowd')) === 0 ? true : undefined),
      20_000,
      250,
    );
  });

  it('takeover: a second publisher on origin B wins; A closes its publisher; viewers follow', async () => {
    const a = publish(rtmp(originA, 'tk'), { size: '640x360' });
    await registered('tk', 'origin-a');
    const read = await openFlv(flv(edge1, 'tk'));
    await waitFor('frames from A', () => (read.tags.some(isKeyframe) ? true : undefined), 15_000);
    const t0 = Date.now();
    publish(rtmp(originB, 'tk'), { size: '320x240' });
    await registered('tk', 'origin-b');
    await waitFor(
      'A to close its publisher (ffmpeg exits)',
      () => (a.proc.exitCode !== null ? true : undefined),
      15_000,
    );
    const tookMs = Date.now() - t0;
    const before = read.tags.length;
    await waitFor(
      'keyframes from B on the same connection',
      () => (read.tags.slice(before).some(isKeyframe) ? true : undefined),
      15_000,
    );
    read.close();
    assertMonotonic(read.tags, TAG_VIDEO, 'video');
    console.log(
      `takeover: origin B registered and A's publisher closed ${tookMs} ms after B started publishing`,
    );
  });

  it('Redis restarts mid-stream: origins re-register, playback goes on', async () => {
    const read = await openFlv(flv(edge2, 'main'));
    await waitFor('frames', () => (read.tags.some(isKeyframe) ? true : undefined), 15_000);
    await redis.restart();
    await registered('main', 'origin-a');
    const n = read.tags.length;
    await waitFor('playback continues', () => (read.tags.length > n + 60 ? true : undefined), 15_000);
    read.close();
  });

  it('kill -9 origin A: the viewer stays connected and resumes from origin B, monotonic timestamps, decodable', async () => {
    const read = await openFlv(flv(edge1, 'main'));
    const copy = run(
      'ffmpeg',
      [
        '-v',
        'error',
        '-rw_timeout',
        '20000000',
        '-i',
        flv(edge1, 'main'),
        '-c',
        'copy',
        '-t',
        '25',
        '-f',
        'flv',
        '-y',
        '/tmp/relaycast-failover.flv',
      ],
      60_000,
    );
    await waitFor(
      'frames before the kill',
      () => (read.tags.filter(isKeyframe).length >= 2 ? true : undefined),
      15_000,
    );
    const hlsUrl = `http://127.0.0.1:${edge1.ports.http}/live/main.m3u8`;
    const hlsBefore = await (await fetch(hlsUrl)).text();
    assert.doesNotMatch(hlsBefore, /#EXT-X-DISCONTINUITY\n/);
    await originA.stop('SIGKILL');
    const killedAt = Date.now();
    const beforeTags = read.tags.length;
    await new Promise((r) => setTimeout(r, 1000)); // the broadcaster notices and reconnects
    const republishAt = Date.now();
    publish(rtmp(originB, 'main'), { size: '640x360' });
    await waitFor(
      'a new keyframe on the same viewer connection',
      () => (read.tags.slice(beforeTags).some(isKeyframe) ? true : undefined),
      30_000,
      50,
    );
    const resumedAt = Date.now();
    await waitFor('more media', () => (read.tags.length > beforeTags + 100 ? true : undefined), 15_000);
    read.close();
    assertMonotonic(read.tags, TAG_VIDEO, 'video');
    assertMonotonic(read.tags, TAG_AUDIO, 'audio');
    console.log(
      `failover: viewer gap ${resumedAt - killedAt} ms from kill, ${resumedAt - republishAt} ms after the broadcaster republished`,
    );
    const hlsAfter = await waitFor(
      'edge HLS playlist from origin B with a discontinuity',
      async () => {
        const res = await fetch(hlsUrl);
        const text = res.ok ? await res.text() : '';
        return /#EXT-X-DISCONTINUITY\n/.test(text) ? text : undefined;
      },
      30_000,
      250,
    );
    const seq = (t: string) => Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(t)?.[1]);
    assert.ok(seq(hlsAfter) > seq(hlsBefore), 'media sequence rises across origins');
    const copied = await copy;
    assert.equal(copied.code, 0, copied.stderr);
    const decoded = await run(
      'ffmpeg',
      ['-v', 'error', '-i', '/tmp/relaycast-failover.flv', '-f', 'null', '-'],
      60_000,
    );
    assert.equal(decoded.code, 0, decoded.stderr);
  });
});
