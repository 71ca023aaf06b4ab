/**
 * HLS end to end: real ffmpeg publishes, ffmpeg/ffprobe read the playlists relaycast packages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ffprobe,
  killAll,
  publish,
  type RelaycastProcess,
  run,
  startRelaycast,
  waitFor,
} from './helpers/process.ts';

interface ParsedPlaylist {
  mediaSequence: number;
  discontinuitySequence: number;
  targetDuration: number;
  durations: number[];
  uris: string[];
  discontinuities: number;
  ended: boolean;
  text: string;
}

export function parsePlaylist(text: string): ParsedPlaylist {
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
  const lines = text.split('\n');
  return {
    mediaSequence: num(/#EXT-X-MEDIA-SEQUENCE:(\d+)/),
    discontinuitySequence: num(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/) || 0,
    targetDuration: num(/#EXT-X-TARGETDURATION:(\d+)/),
    durations: lines.filter((l) => l.startsWith('#EXTINF:')).map((l) => Number.parseFloat(l.slice(8))),
    uris: lines.filter((l) => l && !l.startsWith('#')),
    discontinuities: lines.filter((l) => l === '#EXT-X-DISCONTINUITY').length,
    ended: text.includes('#EXT-X-ENDLIST'),
    text,
  };
}

const BAD_DECODE = /error|continuity|non-monoton|invalid|corrupt|missing picture|decode_slice/i;

describe('HLS', { timeout: 300_000 }, () => {
  let rc: RelaycastProcess;
  before(async () => {
    rc = await startRelaycast('all', ['--republish-wait', '30', '--hls-target-duration', '1']);
  });
  after(async () => {
    await killAll();
  });
  const rtmp = (n: string) => `rtmp://127.0.0.1:${rc.ports.rtmp}/live/${n}`;
  const m3u8 = (n: string) => `http://127.0.0.1:${rc.ports.http}/live/${n}.ts.m3u8`;
  const getPlaylist = async (n: string) => {
    const res = await fetch(m3u8(n));
    return { res, pl: res.status === 200 ? parsePlaylist(await res.text()) : undefined };
  };
  const waitSegments = (n: string, count: number) =>
    waitFor(
      `${count} segments of ${n}`,
      async () => {
        const { pl } = await getPlaylist(n);
        return pl && pl.durations.length >= count ? pl : undefined;
      },
      30_000,
      250,
    );

  it('answers 404 fast for a stream that is not live', async () => {
    const t0 = Date.now();
    const { res } = await getPlaylist('nobody');
    assert.equal(res.status, 404);
    assert.ok(Date.now() - t0 < 1000);
  });

  it('H.264 + AAC: ffmpeg decodes the playlist cleanly; ffprobe sees codecs and size; headers right', async () => {
    publish(rtmp('hls1'), { size: '640x360', rate: 30, gop: 30 });
    const pl = await waitSegments('hls1', 3);
    assert.ok(pl.targetDuration >= 1 && pl.targetDuration <= 2, `target ${pl.targetDuration}`);
    for (const d of pl.durations)
      assert.ok(d >= 0.9 && d <= 2.1, `segment duration ${d} outside target..target+GOP`);
    const { res } = await getPlaylist('hls1');
    assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.match(res.headers.get('cache-control') ?? '', /no-cache/);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const segUrl = `http://127.0.0.1:${rc.ports.http}/live/${pl.uris.at(-1)}`;
    const seg = await fetch(segUrl);
    assert.equal(seg.status, 200);
    assert.equal(seg.headers.get('content-type'), 'video/mp2t');
    assert.match(seg.headers.get('cache-control') ?? '', /immutable/);
    const body = Buffer.from(await seg.arrayBuffer());
    assert.equal(body.length % 188, 0);
    assert.equal(body[0], 0x47);
    const probe = await ffprobe(m3u8('hls1'));
    const v = probe.streams.find((s) => s.codec_type === 'video');
    assert.equal(v?.codec_name, 'h264');
    assert.equal(v?.width, 640);
    assert.equal(v?.height, 360);
    assert.equal(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');
    const dec = await run(
      'ffmpeg',
      ['-v', 'warning', '-i', m3u8('hls1'), '-t', '6', '-f', 'null', '-'],
      60_000,
    );
    assert.equal(dec.code, 0, dec.stderr);
    assert.doesNotMatch(dec.stderr, BAD_DECODE, dec.stderr);
  });

  it('H.264 + MP3 and audio-only streams play', async () => {
    publish(rtmp('hlsmp3'), { audio: 'mp3' });
    publish(rtmp('hlsaudio'), { video: false, audio: 'aac' });
    await waitSegments('hlsmp3', 2);
    await waitSegments('hlsaudio', 2);
    const mp3 = await ffprobe(m3u8('hlsmp3'));
    assert.equal(mp3.streams.find((s) => s.codec_type === 'audio')?.codec_name, 'mp3');
    const audio = await ffprobe(m3u8('hlsaudio'));
    assert.deepEqual(
      audio.streams.map((s) => s.codec_type),
      ['audio'],
    );
    for (const n of ['hlsmp3', 'hlsaudio']) {
      const dec = await run('ffmpeg', ['-v', 'warning', '-i', m3u8(n), '-t', '4', '-f', 'null', '-'], 60_000);
      assert.equal(dec.code, 0, dec.stderr);
      assert.doesNotMatch(dec.stderr, BAD_DECODE, `${n}: ${dec.stderr}`);
    }
  });

  it('a 2.5 s GOP: TARGETDURATION never changes, EXTINF fit it, a segment that left the playlist is still served', async () => {
    publish(rtmp('hlsgop'), { gop: 75 }); // 2.5 s at 30 fps, above the auto 2 s hard maximum
    const first = await waitSegments('hlsgop', 1);
    const firstUri = first.uris[0]!;
    const targets = new Set<number>();
    const slid = await waitFor(
      'the first segment to leave the playlist',
      async () => {
        const { pl } = await getPlaylist('hlsgop');
        if (!pl) return undefined;
        targets.add(pl.targetDuration);
        for (const d of pl.durations) assert.ok(Math.round(d) <= pl.targetDuration, pl.text);
        return pl.uris.includes(firstUri) ? undefined : pl;
      },
      60_000,
      200,
    );
    assert.deepEqual([...targets], [2], 'TARGETDURATION is ceil(--hls-max-segment-duration auto = 2 s)');
    assert.ok(slid.mediaSequence > first.mediaSequence);
    // RFC 8216 6.2.2: still available for its duration plus the playlist's
    const res = await fetch(`http://127.0.0.1:${rc.ports.http}/live/${firstUri}`);
    assert.equal(res.status, 200);
    assert.equal(Buffer.from(await res.arrayBuffer())[0], 0x47);
  });

  it('republish: discontinuity, rising media sequence, a playing ffmpeg reader keeps going; unpublish ends the playlist', async () => {
    const first = publish(rtmp('hlsre'));
    const before = await waitSegments('hlsre', 3);
    const reader = run(
      'ffmpeg',
      ['-v', 'warning', '-i', m3u8('hlsre'), '-t', '14', '-f', 'null', '-'],
      90_000,
    );
    await new Promise((r) => setTimeout(r, 3000));
    await first.stop('SIGKILL');
    const second = publish(rtmp('hlsre'));
    const afterPl = await waitFor(
      'discontinuity in the playlist',
      async () => {
        const { pl } = await getPlaylist('hlsre');
        return pl && pl.discontinuities + pl.discontinuitySequence > 0 && pl.durations.length >= 2
          ? pl
          : undefined;
      },
      40_000,
      250,
    );
    assert.ok(afterPl.mediaSequence >= before.mediaSequence, 'media sequence never rewinds');
    const dec = await reader;
    assert.equal(dec.code, 0, `reader stopped: ${dec.stderr}`);
    await second.stop('SIGINT');
    const ended = await waitFor(
      'ENDLIST after unpublish',
      async () => {
        const { pl } = await getPlaylist('hlsre');
        return pl?.ended ? pl : undefined;
      },
      15_000,
      250,
    );
    assert.ok(ended.ended);
  });
});
