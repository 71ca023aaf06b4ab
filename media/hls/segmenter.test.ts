import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { annexBNalTypes, readTransportStream } from '../mpegts/ts-reader.ts';
import { type MediaTag, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO } from '../tag.ts';
import {
  aacFrame,
  aacSequenceHeader,
  aacTs,
  avcFrame,
  avcSequenceHeader,
  avStream,
  frameTs,
  hevcFrame,
  hevcSequenceHeader,
  mp3Frame,
  PPS,
  SPS,
} from './fixtures.ts';
import { renderMediaPlaylist } from './playlist.ts';
import { type HlsSegment, HlsSegmenter, type HlsSegmenterOptions } from './segmenter.ts';

const V = 0x100;
const A = 0x101;

function run(
  tags: MediaTag[],
  options?: Partial<HlsSegmenterOptions>,
  seg = new HlsSegmenter(options),
): { seg: HlsSegmenter; out: HlsSegment[] } {
  const out: HlsSegment[] = [];
  for (const t of tags) {
    const s = seg.push(t, 1_700_000_000_000 + t.timestamp);
    if (s) out.push(s);
  }
  return { seg, out };
}

function finish(r: { seg: HlsSegmenter; out: HlsSegment[] }, nowMs = 0): HlsSegment[] {
  const last = r.seg.end(nowMs);
  return last ? [...r.out, last] : r.out;
}

describe('HlsSegmenter: cutting', () => {
  it('cuts at the first keyframe at or past the target; a 4.2 s GOP makes 4.2 s segments', () => {
    const segs = finish(run(avStream({ seconds: 13, gop: 126 }), { targetDurationMs: 1000 }));
    assert.deepEqual(
      segs.map((s) => s.durationMs),
      [4200, 4200, 4200, 400],
    );
    assert.ok(segs.every((s) => s.hasKeyframeStart));
    assert.deepEqual(
      segs.map((s) => s.sequence),
      [0, 1, 2, 3],
    );
  });

  it('cuts every keyframe when the GOP equals the target, every second one when it is half', () => {
    const one = finish(run(avStream({ seconds: 5, gop: 30 }), { targetDurationMs: 1000 }));
    assert.deepEqual(
      one.map((s) => s.durationMs),
      [1000, 1000, 1000, 1000, 1000],
    );
    const half = finish(run(avStream({ seconds: 5, gop: 15 }), { targetDurationMs: 1000 }));
    assert.deepEqual(
      half.map((s) => s.durationMs),
      [1000, 1000, 1000, 1000, 1000],
    );
    const odd = finish(run(avStream({ seconds: 5, gop: 20 }), { targetDurationMs: 1000 }));
    assert.deepEqual(
      odd.map((s) => s.durationMs),
      [1333, 1334, 1333, 1000],
    );
  });

  it('the last segment lasts until one frame after its last frame', () => {
    const segs = finish(run(avStream({ seconds: 2.5, gop: 30, audio: false }), { targetDurationMs: 1000 }));
    // frames 60..74 → dts 2000..2467, + one frame (33 or 34 ms)
    assert.equal(segs.at(-1)!.durationMs, 2500 - 2000);
  });

  it('drops frames before the first keyframe; every segment starts with PAT, PMT and a keyframe', () => {
    const tags: MediaTag[] = [avcSequenceHeader(0), aacSequenceHeader(0)];
    for (let i = 0; i < 10; i++) tags.push(avcFrame(frameTs(i), false), aacFrame(frameTs(i)));
    for (let i = 10; i < 100; i++) tags.push(avcFrame(frameTs(i), (i - 10) % 30 === 0), aacFrame(frameTs(i)));
    const segs = finish(run(tags));
    assert.equal(segs.length, 3);
    const r = readTransportStream(segs.map((s) => s.data));
    assert.deepEqual(r.problems, []);
    const video = r.pes.filter((p) => p.pid === V);
    assert.equal(video.length, 90);
    assert.equal(video[0]!.dts, frameTs(10) * 90);
    assert.ok(r.pes.filter((p) => p.pid === A).every((p) => p.pts! >= frameTs(10) * 90));
    segs.forEach((_, i) => {
      assert.deepEqual(r.firstPids[i]!.slice(0, 3), [0, 0x1000, V], `segment ${i} starts PAT, PMT, video`);
      const first = r.pes.find((p) => p.segment === i && p.pid === V)!;
      assert.ok(first.randomAccess);
      assert.deepEqual(annexBNalTypes(first.payload), [9, 7, 8, 5]);
    });
  });

  it('writes AUD + SPS + PPS before every IDR, AUD alone before other frames, drops in-band AUDs', () => {
    const aud = Buffer.from([0x09, 0xf0]);
    const sei = Buffer.from([0x06, 0x05, 0x01, 0x00, 0x80]);
    const idr = Buffer.alloc(50, 0x11);
    idr[0] = 0x65;
    const p = Buffer.alloc(50, 0x11);
    p[0] = 0x41;
    const tags: MediaTag[] = [avcSequenceHeader(0)];
    for (let i = 0; i < 90; i++) {
      const key = i % 30 === 0;
      tags.push(avcFrame(frameTs(i), key, { nals: key ? [aud, sei, idr] : [aud, p] }));
    }
    const segs = finish(run(tags));
    const r = readTransportStream(segs.map((s) => s.data));
    assert.deepEqual(r.problems, []);
    let idrs = 0;
    for (const pes of r.pes) {
      const types = annexBNalTypes(pes.payload);
      if (types.includes(5)) {
        idrs++;
        assert.deepEqual(types, [9, 7, 8, 6, 5]);
        // the SPS/PPS bytes are the configuration record's
        assert.ok(pes.payload.includes(Buffer.concat([Buffer.from([0, 0, 0, 1]), SPS])));
        assert.ok(pes.payload.includes(Buffer.concat([Buffer.from([0, 0, 0, 1]), PPS])));
      } else assert.deepEqual(types, [9, 1]);
    }
    assert.equal(idrs, 3);
  });

  it('keeps PTS = (DTS + composition time) × 90 and DTS = input × 90, monotonic', () => {
    const segs = finish(run(avStream({ seconds: 3, gop: 30, bframes: true, start: 5000 })));
    const r = readTransportStream(segs.map((s) => s.data));
    const video = r.pes.filter((p) => p.pid === V);
    video.forEach((p, i) => {
      assert.equal(p.dts, frameTs(i, 30, 5000) * 90);
      assert.equal(p.pts, (frameTs(i, 30, 5000) + 67) * 90);
    });
    for (let i = 1; i < video.length; i++) assert.ok(video[i]!.dts! > video[i - 1]!.dts!);
  });

  it('puts a PCR in the first video packet of every segment, monotonic across segments', () => {
    const segs = finish(run(avStream({ seconds: 4, gop: 30 })));
    const r = readTransportStream(segs.map((s) => s.data));
    assert.deepEqual(r.problems, []);
    segs.forEach((_, i) => {
      const firstVideoPacket = segs[i]!.data.indexOf(Buffer.from([0x47, 0x41, 0x00]));
      const pcr = r.pcrs.find((p) => p.segment === i);
      assert.ok(pcr, `PCR in segment ${i}`);
      assert.equal(pcr.pid, V);
      assert.equal(pcr.packet * 188, firstVideoPacket);
    });
    for (let i = 1; i < r.pcrs.length; i++) assert.ok(r.pcrs[i]!.base >= r.pcrs[i - 1]!.base);
  });

  it('cuts audio-only streams on time at an audio frame; PCR on the audio PID', () => {
    const tags: MediaTag[] = [aacSequenceHeader(0)];
    for (let i = 0; aacTs(i) < 5000; i++) tags.push(aacFrame(aacTs(i)));
    const segs = finish(run(tags));
    assert.equal(segs.length, 5);
    for (const s of segs.slice(0, -1))
      assert.ok(s.durationMs >= 1000 && s.durationMs < 1024, `${s.durationMs}`);
    assert.ok(segs.every((s) => s.hasKeyframeStart));
    const r = readTransportStream(segs.map((s) => s.data));
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.psi[1]!.streams, [{ streamType: 0x0f, pid: A }]);
    assert.ok(r.pcrs.length > 0 && r.pcrs.every((p) => p.pid === A));
    // every frame is there, each with its ADTS header
    const payload = Buffer.concat(r.pes.map((p) => p.payload));
    let frames = 0;
    for (let o = 0; o < payload.length; frames++) {
      assert.equal(payload.readUInt16BE(o) & 0xfff6, 0xfff0, 'ADTS sync');
      o += ((payload[o + 3]! & 3) << 11) | (payload[o + 4]! << 3) | (payload[o + 5]! >> 5);
    }
    assert.equal(frames, tags.length - 1);
  });

  it('MP3 passes through as MPEG-1 audio (stream_type 0x03)', () => {
    const tags: MediaTag[] = [avcSequenceHeader(0)];
    for (let i = 0; i < 60; i++) tags.push(avcFrame(frameTs(i), i % 30 === 0), mp3Frame(frameTs(i)));
    const segs = finish(run(tags));
    const r = readTransportStream(segs.map((s) => s.data));
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.psi[1]!.streams, [
      { streamType: 0x1b, pid: V },
      { streamType: 0x03, pid: A },
    ]);
    const audio = Buffer.concat(r.pes.filter((p) => p.pid === A).map((p) => p.payload));
    assert.equal(audio.length, 60 * 417);
  });

  it('packages HEVC: stream_type 0x24, HEVC AUD then VPS, SPS, PPS before IRAP pictures', () => {
    const tags: MediaTag[] = [hevcSequenceHeader(0)];
    for (let i = 0; i < 60; i++) tags.push(hevcFrame(frameTs(i), i % 30 === 0));
    const segs = finish(run(tags));
    const r = readTransportStream(segs.map((s) => s.data));
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.psi[1]!.streams, [{ streamType: 0x24, pid: V }]);
    const types = r.pes.map((p) => annexBNalTypes(p.payload, true));
    assert.deepEqual(types[0], [35, 32, 33, 34, 19]);
    assert.deepEqual(types[1], [35, 1]);
    assert.deepEqual(types[30], [35, 32, 33, 34, 19]);
  });

  it('cuts a runaway GOP at maxSegmentDurationMs (not at a keyframe) and stops claiming independent segments', () => {
    const tags: MediaTag[] = [avcSequenceHeader(0), aacSequenceHeader(0)];
    for (let i = 0; frameTs(i) < 12_000; i++) tags.push(avcFrame(frameTs(i), i === 0), aacFrame(frameTs(i)));
    const r = run(tags, { maxSegmentDurationMs: 5000 });
    const segs = finish(r);
    assert.deepEqual(
      segs.map((s) => [s.durationMs, s.hasKeyframeStart]),
      [
        [5000, true],
        [5000, false],
        [2000, false],
      ],
    );
    const text = renderMediaPlaylist(segs, 0, 0, {
      segmentUri: String,
      ended: true,
      targetDurationSeconds: r.seg.targetDurationSeconds,
    });
    assert.doesNotMatch(text, /INDEPENDENT-SEGMENTS/);
    assert.match(text, /#EXT-X-TARGETDURATION:5\n/);
    // audio goes on when video stalls
    const stalled: MediaTag[] = [avcSequenceHeader(0), aacSequenceHeader(0), avcFrame(0, true)];
    for (let i = 0; aacTs(i) < 12_000; i++) stalled.push(aacFrame(aacTs(i)));
    const s2 = finish(run(stalled, { maxSegmentDurationMs: 5000 }));
    assert.equal(s2.length, 3);
    assert.ok(s2[0]!.durationMs >= 5000 && s2[0]!.durationMs < 5024);
  });

  it('EXT-X-TARGETDURATION never changes while the GOP grows from 1 s to 7 s, and every EXTINF fits it', () => {
    const tags: MediaTag[] = [avcSequenceHeader(0), aacSequenceHeader(0)];
    const gopAt = (ms: number) => (ms < 4000 ? 1000 : ms < 18_000 ? 7000 : 2500);
    let nextKey = 0;
    for (let i = 0; frameTs(i) < 30_000; i++) {
      const ts = frameTs(i);
      const key = ts >= nextKey;
      if (key) nextKey = ts + gopAt(ts);
      tags.push(avcFrame(ts, key), aacFrame(ts));
    }
    const seg = new HlsSegmenter({ targetDurationMs: 1000, maxSegmentDurationMs: 2000, windowSegments: 4 });
    const targets = new Set<string>();
    for (const t of tags) {
      if (!seg.push(t, t.timestamp)) continue;
      const text = renderMediaPlaylist(seg.segments, seg.mediaSequence, seg.discontinuitySequence, {
        segmentUri: String,
        ended: false,
        targetDurationSeconds: seg.targetDurationSeconds,
      });
      const target = Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(text)![1]);
      targets.add(String(target));
      for (const m of text.matchAll(/#EXTINF:([\d.]+),/g))
        assert.ok(Math.round(Number(m[1])) <= target, `EXTINF ${m[1]} above TARGETDURATION ${target}`);
    }
    assert.deepEqual([...targets], ['2']);
    // keyframes realign the cuts: a segment after a mid-GOP cut ends at the next keyframe
    const durations = seg.segments.map((s) => s.durationMs);
    assert.ok(
      durations.every((d) => d <= 2034),
      String(durations),
    );
  });

  it('ignores script tags, unsupported codecs and damaged tags without throwing', () => {
    const tags: MediaTag[] = [
      { type: TAG_SCRIPT, timestamp: 0, data: Buffer.from([2, 0, 10]) },
      ...avStream({ seconds: 2, gop: 30 }),
    ];
    tags.splice(5, 0, { type: TAG_VIDEO, timestamp: 1, data: Buffer.from([0x17, 1, 0, 0, 0, 0, 0, 0, 99]) }); // NAL overrun
    tags.splice(6, 0, { type: TAG_VIDEO, timestamp: 1, data: Buffer.alloc(0) });
    tags.splice(7, 0, { type: TAG_AUDIO, timestamp: 1, data: Buffer.from([0xaf, 0, 0xff]) }); // bad ASC
    tags.splice(8, 0, { type: TAG_VIDEO, timestamp: 1, data: Buffer.from([0x12, 0, 0, 0]) }); // H.263
    tags.splice(9, 0, { type: TAG_AUDIO, timestamp: 1, data: Buffer.from([0x2f, 1, 2]) }); // MP3 without sync
    const segs = finish(run(tags));
    assert.equal(segs.length, 2);
    assert.deepEqual(readTransportStream(segs.map((s) => s.data)).problems, []);
    // random bytes
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const seg = new HlsSegmenter({ targetDurationMs: 100 });
    for (let i = 0; i < 5000; i++) {
      const data = Buffer.alloc(rnd() % 40);
      for (let k = 0; k < data.length; k++) data[k] = rnd() & 0xff;
      if (data.length > 0 && i % 3 === 0) data[0] = [0x17, 0x27, 0xaf, 0x1c, 0x2f][rnd() % 5]!;
      seg.push({ type: i % 2 ? TAG_AUDIO : TAG_VIDEO, timestamp: i * 10, data }, i);
    }
    seg.end(0);
  });
});

describe('HlsSegmenter: window and sequence numbers', () => {
  it('keeps windowSegments segments; mediaSequence and getSegment follow', () => {
    const { seg, out } = run(avStream({ seconds: 10, gop: 30 }), { windowSegments: 3 });
    assert.equal(out.length, 9);
    assert.equal(seg.segments.length, 3);
    assert.equal(seg.mediaSequence, 6);
    assert.deepEqual(
      seg.segments.map((s) => s.sequence),
      [6, 7, 8],
    );
    const now = 1_700_000_010_000;
    assert.equal(seg.getSegment(7, now), seg.segments[1]);
    assert.equal(seg.getSegment(9, now), undefined);
    assert.equal(seg.getSegment(6.5, now), undefined);
  });

  it('RFC 8216 6.2.2: a segment out of the window stays available for its duration plus the longest playlist', () => {
    // 1 s segments, window 3: the longest playlist lasts 3 s, so a segment dropped at time T stays until T + 1 s + 3 s.
    const seg = new HlsSegmenter({ windowSegments: 3 });
    const dropped = new Map<number, number>(); // sequence -> wall clock when it left the window
    let checks = 0;
    for (const t of avStream({ seconds: 10, gop: 30 })) {
      const now = 1_700_000_000_000 + t.timestamp;
      const before = seg.mediaSequence;
      seg.push(t, now);
      for (let q = before; q < seg.mediaSequence; q++) dropped.set(q, now);
      for (const [sequence, at] of dropped) {
        const available = seg.getSegment(sequence, now)?.sequence === sequence;
        assert.equal(
          available,
          now <= at + 4000,
          `segment ${sequence} at ${now - at} ms after leaving the window`,
        );
        if (available) checks++;
      }
    }
    assert.deepEqual([...dropped.keys()], [0, 1, 2, 3, 4, 5]);
    assert.ok(checks > 100);
    const last = dropped.get(5)!;
    assert.equal(seg.getSegment(5, last + 4000)?.sequence, 5);
    assert.equal(seg.getSegment(5, last + 4001), undefined);
    // a successor (republish) keeps the predecessor's window available: its own playlist starts empty
    const at = 1_700_000_020_000;
    const next = new HlsSegmenter({ windowSegments: 3 }, seg.state(at));
    assert.equal(next.segments.length, 0);
    for (const s of seg.segments) assert.equal(next.getSegment(s.sequence, at + 4000), s);
    assert.equal(next.getSegment(seg.segments[0]!.sequence, at + 4001), undefined);
    assert.deepEqual(
      next.retiredSegments(at).map((s) => s.sequence),
      [...seg.retiredSegments(at), ...seg.segments].map((s) => s.sequence),
    );
  });

  it('retention never holds more than maxWindowBytes of retired segments', () => {
    const probe = run(avStream({ seconds: 3, gop: 30 })).out[0]!;
    const { seg } = run(avStream({ seconds: 20, gop: 30 }), {
      windowSegments: 2,
      maxWindowBytes: probe.byteLength * 3.5,
    });
    const retired = seg.retiredSegments(1_700_000_019_000);
    assert.ok(retired.length >= 1 && retired.length <= 3, `${retired.length} retired`);
  });

  it('also bounds the window by maxWindowBytes (always keeping the newest)', () => {
    const probe = run(avStream({ seconds: 3, gop: 30 })).out[0]!;
    const { seg } = run(avStream({ seconds: 10, gop: 30 }), { maxWindowBytes: probe.byteLength * 2.5 });
    assert.equal(seg.segments.length, 2);
    const tiny = run(avStream({ seconds: 5, gop: 30 }), { maxWindowBytes: 10 }).seg;
    assert.equal(tiny.segments.length, 1);
  });

  it('a changed sequence header starts a discontinuity; dropping it from the window bumps the discontinuity sequence', () => {
    const sps2 = Buffer.from(SPS);
    sps2[sps2.length - 1] = 0x20;
    const tags = avStream({ seconds: 3, gop: 30, audio: false });
    tags.push(avcSequenceHeader(3000), avcSequenceHeader(3000)); // identical twice: one change
    tags.push(avcSequenceHeader(3000, sps2));
    for (let i = 90; i < 300; i++) tags.push(avcFrame(frameTs(i), i % 30 === 0));
    const { seg, out } = run(tags, { windowSegments: 4 });
    const flags = out.map((s) => s.discontinuity);
    assert.deepEqual(flags.slice(0, 4), [false, false, false, true]);
    assert.equal(flags.filter(Boolean).length, 1);
    assert.equal(out[2]!.durationMs, 1000);
    assert.equal(seg.segments.length, 4);
    assert.equal(seg.discontinuitySequence, 1);
    assert.ok(!seg.segments.some((s) => s.discontinuity));
    // the new SPS is what precedes IDRs after the change
    const r = readTransportStream([out[3]!.data]);
    assert.ok(r.pes[0]!.payload.includes(sps2));
  });

  it('a first identical sequence header repeated before frames is not a discontinuity', () => {
    const tags = [avcSequenceHeader(0), ...avStream({ seconds: 3, gop: 30 })];
    assert.ok(!finish(run(tags)).some((s) => s.discontinuity));
  });

  it('markDiscontinuity: the open segment closes, headers are re-read, the next segment is flagged', () => {
    const seg = new HlsSegmenter();
    const a = run(avStream({ seconds: 2.5, gop: 30 }), {}, seg).out;
    assert.equal(a.length, 2);
    seg.markDiscontinuity();
    // frames of the new publisher before its sequence headers cannot be packaged
    assert.equal(seg.push(avcFrame(2600, true), 0), undefined);
    const b = run(avStream({ seconds: 3, gop: 30, start: 2600 }), {}, seg).out;
    assert.equal(b.length, 3);
    assert.equal(b[0]!.sequence, 2);
    assert.equal(b[0]!.durationMs, 500, 'closed one frame after its last frame, not at the gap');
    assert.equal(b[0]!.discontinuity, false);
    assert.equal(b[1]!.discontinuity, true);
    assert.equal(b[2]!.discontinuity, false);
    const all = finish({ seg, out: [...a, ...b] });
    assert.deepEqual(readTransportStream(all.map((s) => s.data)).problems, []);
  });

  it('state(): a successor segmenter keeps counting and carries the discontinuity numbering', () => {
    const first = new HlsSegmenter({}, { mediaSequence: 100, discontinuitySequence: 5 });
    assert.equal(first.mediaSequence, 100);
    first.markDiscontinuity();
    run(avStream({ seconds: 4.5, gop: 30 }), {}, first);
    first.end(0);
    assert.equal(first.segments[0]!.discontinuity, true);
    const st = first.state();
    assert.deepEqual(st, {
      mediaSequence: 100,
      discontinuitySequence: 6,
      nextSequence: 105,
      discontinuityNext: false,
      retired: [],
    });
    const next = new HlsSegmenter({}, st);
    next.markDiscontinuity();
    assert.equal(next.mediaSequence, 105);
    const out = run(avStream({ seconds: 2, gop: 30 }), {}, next).out;
    assert.equal(out[0]!.sequence, 105);
    assert.equal(out[0]!.discontinuity, true);
    assert.equal(next.discontinuitySequence, 6);
    // origin style: discontinuityNext in the state
    const third = new HlsSegmenter({}, { ...next.state(), discontinuityNext: true });
    const o3 = run(avStream({ seconds: 2, gop: 30 }), {}, third).out;
    assert.equal(o3[0]!.sequence, 106);
    assert.equal(o3[0]!.discontinuity, true);
  });

  it('ended: end() flushes once, later pushes are ignored', () => {
    const r = run(avStream({ seconds: 1.5, gop: 30 }));
    assert.equal(r.out.length, 1);
    assert.ok(r.seg.end(0));
    assert.equal(r.seg.ended, true);
    assert.equal(r.seg.end(0), undefined);
    assert.equal(r.seg.push(avcFrame(5000, true), 0), undefined);
    assert.equal(new HlsSegmenter().end(0), undefined);
  });
});

describe('HlsSegmenter: tracks and timeline', () => {
  it('audio first, video config later: the audio-only start is dropped, segments carry both tracks', () => {
    const tags: MediaTag[] = [aacSequenceHeader(0)];
    for (let i = 0; aacTs(i) < 300; i++) tags.push(aacFrame(aacTs(i)));
    tags.push(
      ...avStream({ seconds: 3, gop: 30, start: 300 }).filter(
        (t) => !(t.type === TAG_AUDIO && t.data[1] === 0),
      ),
    );
    const segs = finish(run(tags));
    assert.ok(segs.length >= 3);
    assert.ok(!segs.some((s) => s.discontinuity));
    const r = readTransportStream(segs.map((s) => s.data));
    assert.deepEqual(r.problems, []);
    assert.ok(r.psi.filter((p) => p.tableId === 2).every((p) => p.streams!.length === 2));
    assert.equal(r.pes.find((p) => p.pid === V)!.dts, 300 * 90);
  });

  it('audio config after the first keyframe: the unpublished first segment is rebuilt with both tracks', () => {
    const tags = avStream({ seconds: 4, gop: 30 });
    const ascIndex = tags.findIndex((t) => t.type === TAG_AUDIO && t.data[1] === 0);
    const [asc] = tags.splice(ascIndex, 1);
    tags.splice(10, 0, { ...asc!, timestamp: 100 });
    const segs = finish(run(tags));
    assert.ok(!segs.some((s) => s.discontinuity));
    const r = readTransportStream(segs.map((s) => s.data));
    assert.deepEqual(r.problems, []);
    assert.equal(r.pes.find((p) => p.pid === V)!.dts, 0, 'no video lost');
    assert.equal(r.pes.filter((p) => p.pid === V).length, 120);
    assert.ok(r.psi.filter((p) => p.tableId === 2).every((p) => p.streams!.length === 2));
  });

  it('a track appearing after segments were published is a discontinuity with a new PMT', () => {
    const tags = avStream({ seconds: 2.5, gop: 30, audio: false });
    tags.push(aacSequenceHeader(2500));
    const more = avStream({ seconds: 2, gop: 30, start: 2500 }).slice(2);
    const segs = finish(run([...tags, ...more]));
    const firstWithAudio = segs.findIndex((s) => readTransportStream([s.data]).psi[1]!.streams!.length === 2);
    assert.ok(firstWithAudio > 0);
    assert.equal(segs[firstWithAudio]!.discontinuity, true);
    const r = readTransportStream(segs.map((s) => s.data));
    assert.deepEqual(r.problems, []);
    // no audio PES in a segment whose PMT lacks audio
    for (const p of r.pes.filter((x) => x.pid === A)) assert.ok(p.segment >= firstWithAudio);
  });

  it('a large backwards timestamp jump starts a discontinuity', () => {
    const tags = [...avStream({ seconds: 2.5, gop: 30 }), ...avStream({ seconds: 2, gop: 30 }).slice(2)];
    const segs = finish(run(tags));
    assert.deepEqual(
      segs.map((s) => s.discontinuity),
      [false, false, false, true, false],
    );
  });

  it('PROGRAM-DATE-TIME follows on from segment to segment while the timeline is continuous', () => {
    const seg = new HlsSegmenter();
    const out: HlsSegment[] = [];
    for (const t of avStream({ seconds: 5, gop: 30 })) {
      // arrival jitters by up to 200 ms
      const s = seg.push(t, 1_000_000 + t.timestamp + ((t.timestamp * 7) % 200));
      if (s) out.push(s);
    }
    out.forEach((s, i) => {
      assert.equal(s.programDateTime, out[0]!.programDateTime + i * 1000);
    });
  });
});
