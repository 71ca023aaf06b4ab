/**
 * The all-in-one server end to end, with real ffmpeg publishers and real ffprobe/ffmpeg players.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseVideoTag } from '../media/flv/video.ts';
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

function firstVideoFrame(tags: MediaTag[]): MediaTag | undefined {
  return tags.find((t) => t.type === TAG_VIDEO && !isVideoSequenceHeader(t.data));
}

describe('all-in-one', { timeout: 240_000 }, () => {
  let rc: RelaycastProcess;
  before(async () => {
    rc = await startRelaycast('all', ['--republish-wait', '20']);
  });
  after(async () => {
    await killAll();
  });

  const rtmpUrl = (name: string) => `rtmp://127.0.0.1:${rc.ports.rtmp}/live/${name}`;
  const flvUrl = (name: string) => `http://127.0.0.1:${rc.ports.http}/live/${name}.flv`;
  const waitLive = (name: string) =>
    waitFor(
      `${name} live`,
      async () => {
        const r = await getJson<{ streams: { name: string; live: boolean; video?: unknown }[] }>(
          `http://127.0.0.1:${rc.ports.admin}/api/v1/streams`,
        );
        return r.body.streams.find((s) => s.name === name && s.live && s.video);
      },
      20_000,
      200,
    );

  it('answers 404 for a stream that is not live, with CORS', async () => {
    const res = await fetch(flvUrl('nobody'));
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'RC_PLAY_NOT_FOUND');
  });

  it('ffprobe sees h264 + aac with the published size and rate over HTTP-FLV; RTMP play decodes', async () => {
    publish(rtmpUrl('test'), { size: '640x360', rate: 30 });
    await waitLive('test');
    const probe = await ffprobe(flvUrl('test'));
    const v = probe.streams.find((s) => s.codec_type === 'video');
    const a = probe.streams.find((s) => s.codec_type === 'audio');
    assert.ok(v && a, `expected video+audio, got ${JSON.stringify(probe.streams)}`);
    assert.equal(v.codec_name, 'h264');
    assert.equal(v.width, 640);
    assert.equal(v.height, 360);
    assert.equal(v.r_frame_rate, '30/1');
    assert.equal(a.codec_name, 'aac');
    const play = await run(
      'ffmpeg',
      ['-v', 'error', '-rw_timeout', '10000000', '-i', rtmpUrl('test'), '-t', '3', '-f', 'null', '-'],
      60_000,
    );
    assert.equal(play.code, 0, `ffmpeg RTMP play failed: ${play.stderr}`);
    const head = await fetch(flvUrl('test'), { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'video/x-flv');
  });

  it('a viewer joining mid-stream starts with config records and a keyframe', async () => {
    await waitLive('test');
    const read = await openFlv(flvUrl('test'));
    await waitFor('a video frame', () => firstVideoFrame(read.tags), 10_000);
    read.close();
    const firstVideo = read.tags.find((t) => t.type === TAG_VIDEO)!;
    assert.ok(isVideoSequenceHeader(firstVideo.data), 'first video tag is the AVC sequence header');
    const frame = firstVideoFrame(read.tags)!;
    assert.equal(parseVideoTag(frame.data).isKeyframe, true, 'first video frame is a keyframe');
    assert.ok(frame.timestamp < 1000, `timeline starts near 0, got ${frame.timestamp}`);
  });

  it('50 concurrent HTTP-FLV viewers all get media', async () => {
    const reads = await Promise.all(Array.from({ length: 50 }, () => openFlv(flvUrl('test'))));
    try {
      await waitFor(
        'all 50 viewers to get 10 video frames',
        () => reads.every((r) => r.tags.filter((t) => t.type === TAG_VIDEO).length >= 10) || undefined,
        20_000,
        200,
      );
      const streams = await getJson<{ streams: { name: string; viewers: { flv: number } }[] }>(
        `http://127.0.0.1:${rc.ports.admin}/api/v1/streams`,
      );
      assert.ok(streams.body.streams.find((s) => s.name === 'test')!.viewers.flv >= 50);
    } finally {
      for (const r of reads) r.close();
    }
  });

  it('republish: a connected viewer keeps receiving frames with non-decreasing timestamps', async () => {
    const first = publish(rtmpUrl('re'), { size: '320x240' });
    await waitLive('re');
    const read = await openFlv(flvUrl('re'));
    await waitFor(
      'frames',
      () => read.tags.filter((t) => t.type === TAG_VIDEO).length > 30 || undefined,
      15_000,
    );
    await first.stop('SIGKILL');
    const before = read.tags.length;
    publish(rtmpUrl('re'), { size: '320x240' });
    await waitFor(
      'frames after republish',
      () =>
        read.tags.slice(before).filter((t) => t.type === TAG_VIDEO && !isVideoSequenceHeader(t.data)).length >
          30 || undefined,
      30_000,
    );
    read.close();
    assertMonotonic(read.tags, TAG_VIDEO, 'video');
    assertMonotonic(read.tags, TAG_AUDIO, 'audio');
  });

  it('a second publisher on a live key takes over at once; viewers follow', async () => {
    const a = publish(rtmpUrl('take'), { size: '640x360' });
    await waitLive('take');
    const read = await openFlv(flvUrl('take'));
    await waitFor(
      'frames from A',
      () => read.tags.filter((t) => t.type === TAG_VIDEO).length > 10 || undefined,
      15_000,
    );
    const b = publish(rtmpUrl('take'), { size: '320x240' });
    // A's connection is closed by the server: its ffmpeg exits on its own.
    await waitFor('publisher A to be dropped', () => (a.proc.exitCode !== null ? true : undefined), 15_000);
    await waitFor(
      '320x240 config on the same viewer connection',
      () =>
        read.tags.some((t) => {
          if (t.type !== TAG_VIDEO || !isVideoSequenceHeader(t.data)) return false;
          return read.tags.indexOf(t) > 0 && t !== read.tags.find((x) => x.type === TAG_VIDEO);
        }) || undefined,
      15_000,
    );
    const info = await waitFor('stream info shows 320x240', async () => {
      const r = await getJson<{ video?: { width?: number } }>(
        `http://127.0.0.1:${rc.ports.admin}/api/v1/streams/live/take`,
      );
      return r.body.video?.width === 320 ? r.body : undefined;
    });
    assert.ok(info);
    read.close();
    assertMonotonic(read.tags, TAG_VIDEO, 'video across takeover');
    assert.equal(b.proc.exitCode, null, 'publisher B still running');
    const metrics = await (await fetch(`http://127.0.0.1:${rc.ports.admin}/metrics`)).text();
    assert.match(metrics, /relaycast_republish_takeovers_total\{[^}]*\} [1-9]/);
  });

  it('H.264 + MP3 publishes and plays', async () => {
    publish(rtmpUrl('mp3'), { audio: 'mp3' });
    await waitLive('mp3');
    const probe = await ffprobe(flvUrl('mp3'));
    assert.equal(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name, 'mp3');
    assert.equal(probe.streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264');
  });

  it('admin API describes streams: codecs, resolution, fps, bitrate, viewers, uptime', async () => {
    const r = await waitFor('stats', async () => {
      const res = await getJson<{
        video?: { codec: string; width: number; height: number };
        audio?: { codec: string };
        fps: number;
        ingestKbps: number;
        uptimeSeconds: number;
        viewers: { total: number };
      }>(`http://127.0.0.1:${rc.ports.admin}/api/v1/streams/live/test`);
      return res.body.fps > 0 ? res.body : undefined;
    });
    assert.equal(r.video?.codec, 'h264');
    assert.equal(r.video?.width, 640);
    assert.equal(r.audio?.codec, 'aac');
    assert.ok(r.fps > 20 && r.fps < 40, `fps ${r.fps}`);
    assert.ok(r.ingestKbps > 0);
    assert.ok(r.uptimeSeconds >= 0);
    const health = await fetch(`http://127.0.0.1:${rc.ports.admin}/healthz`);
    assert.equal(health.status, 200);
  });

  it('stops cleanly on SIGTERM within 5 s', async () => {
    const t0 = Date.now();
    await rc.stop('SIGTERM');
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    assert.equal(rc.proc.exitCode, 0);
  });
});
