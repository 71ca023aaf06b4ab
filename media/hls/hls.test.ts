import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FlvDemuxer } from '../flv/demuxer.ts';
import { TS_PACKET_BYTES } from '../mpegts/muxer.ts';
import type { MediaTag } from '../tag.ts';
import { renderMediaPlaylist } from './playlist.ts';
import { type HlsSegment, HlsSegmenter } from './segmenter.ts';

/** Independent bitwise CRC-32/MPEG-2, to check the muxer's table-driven one. */
function crcBitwise(buf: Buffer): number {
  let crc = 0xffffffff;
  for (const b of buf) {
    crc ^= b << 24;
    for (let i = 0; i < 8; i++) crc = crc & 0x80000000 ? ((crc << 1) ^ 0x04c11db7) >>> 0 : (crc << 1) >>> 0;
  }
  return crc >>> 0;
}

interface Pes {
  pid: number;
  pts: number;
  dts: number;
  payload: Buffer;
}

/** A small TS demuxer written for the test: packets, CC check, PSI CRC check, PES timestamps, PCR. */
function demuxTs(segments: Buffer[]) {
  const cc = new Map<number, number>();
  const pes: Pes[] = [];
  const pcrs: { pid: number; value: number; segment: number }[] = [];
  const open = new Map<number, Buffer[]>();
  let psi = 0;
  const readTs = (b: Buffer, o: number) =>
    ((b[o]! >> 1) & 7) * 2 ** 30 + ((b.readUInt16BE(o + 1) >> 1) << 15) + (b.readUInt16BE(o + 3) >> 1);
  const finish = (pid: number) => {
    const parts = open.get(pid);
    if (!parts) return;
    const all = Buffer.concat(parts);
    assert.equal(all.readUIntBE(0, 3), 1, 'PES start code');
    const flags = all[7]!;
    const pts = readTs(all, 9);
    const dts = flags & 0x40 ? readTs(all, 14) : pts;
    pes.push({ pid, pts, dts, payload: all.subarray(9 + all[8]!) });
  };
  segments.forEach((seg, segIndex) => {
    assert.equal(seg.length % TS_PACKET_BYTES, 0, 'segment is whole packets');
    for (let off = 0; off < seg.length; off += TS_PACKET_BYTES) {
      const p = seg.subarray(off, off + TS_PACKET_BYTES);
      assert.equal(p[0], 0x47, 'sync byte');
      const pid = ((p[1]! & 0x1f) << 8) | p[2]!;
      const pusi = !!(p[1]! & 0x40);
      const afc = (p[3]! >> 4) & 3;
      const counter = p[3]! & 0x0f;
      if (afc & 1) {
        const prev = cc.get(pid);
        if (prev !== undefined) assert.equal(counter, (prev + 1) & 0x0f, `continuity counter on PID ${pid}`);
        cc.set(pid, counter);
      }
      let payloadStart = 4;
      if (afc & 2) {
        const len = p[4]!;
        if (len > 0 && p[5]! & 0x10) {
          const base = p[6]! * 2 ** 25 + p[7]! * 2 ** 17 + p[8]! * 2 ** 9 + p[9]! * 2 + (p[10]! >> 7);
          pcrs.push({ pid, value: base, segment: segIndex });
        }
        payloadStart = 5 + len;
      }
      const payload = p.subarray(payloadStart);
      if (pid === 0 || pid === 0x1000) {
        const section = payload.subarray(1 + payload[0]!);
        const len = section.readUInt16BE(1) & 0x0fff;
        const body = section.subarray(0, 3 + len);
        assert.equal(
          crcBitwise(body.subarray(0, body.length - 4)),
          body.readUInt32BE(body.length - 4),
          'PSI CRC',
        );
        psi++;
        continue;
      }
      if (pusi) {
        finish(pid);
        open.set(pid, [payload]);
      } else open.get(pid)?.push(payload);
    }
  });
  for (const pid of open.keys()) finish(pid);
  return { pes, pcrs, psi };
}

function makeFlv(args: string[]): MediaTag[] | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'rc-hls-'));
  try {
    const out = join(dir, 'in.flv');
    const r = spawnSync('ffmpeg', ['-v', 'error', ...args, '-f', 'flv', out]);
    if (r.error || r.status !== 0) return undefined;
    return new FlvDemuxer().push(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const AV = [
  '-f',
  'lavfi',
  '-i',
  'testsrc2=size=320x240:rate=30',
  '-f',
  'lavfi',
  '-i',
  'sine',
  '-t',
  '4',
  '-c:v',
  'libx264',
  '-g',
  '30',
  '-bf',
  '2',
  '-c:a',
  'aac',
];

describe('HLS segmenter + MPEG-TS muxer', () => {
  const tags = makeFlv(AV);
  it('produces clean TS: 188-byte packets, PSI CRCs, continuous CCs, monotonic DTS, PCR, AUD+SPS+PPS before IDR', {
    skip: !tags && 'ffmpeg not installed',
  }, () => {
    const seg = new HlsSegmenter({ targetDurationMs: 1000 });
    const segments: HlsSegment[] = [];
    for (const t of tags!) {
      const s = seg.push(t, t.timestamp);
      if (s) segments.push(s);
    }
    const last = seg.end(5000);
    if (last) segments.push(last);
    assert.ok(segments.length >= 3, `${segments.length} segments`);
    for (const s of segments.slice(0, -1))
      assert.ok(s.durationMs >= 1000 && s.durationMs <= 1100, `duration ${s.durationMs}`);
    const { pes, pcrs, psi } = demuxTs(segments.map((s) => s.data));
    assert.equal(psi, segments.length * 2, 'PAT + PMT at each segment start');
    const video = pes.filter((p) => p.pid === 0x100);
    const audio = pes.filter((p) => p.pid === 0x101);
    assert.ok(video.length > 100 && audio.length > 100);
    for (let i = 1; i < video.length; i++)
      assert.ok(video[i]!.dts > video[i - 1]!.dts, 'video DTS increases');
    assert.ok(
      video.some((p) => p.pts !== p.dts),
      'B-frames carry PTS != DTS',
    );
    for (const p of video) assert.ok(p.pts >= p.dts);
    // the input timeline × 90 (plus the constant offset)
    const firstVideoTag = tags!.find((t) => t.type === 9 && t.data[1] === 1)!;
    assert.equal(video[0]!.dts, (firstVideoTag.timestamp + 1000) * 90);
    for (let s = 0; s < segments.length; s++)
      assert.ok(
        pcrs.some((p) => p.segment === s && p.pid === 0x100),
        `PCR in segment ${s}`,
      );
    for (let i = 1; i < pcrs.length; i++) assert.ok(pcrs[i]!.value >= pcrs[i - 1]!.value, 'PCR monotonic');
    // Each segment starts with an IDR access unit: AUD, SPS, PPS, then the slice.
    const starts = new Set(segments.map((_, i) => i));
    let checked = 0;
    for (const p of video) {
      const types: number[] = [];
      for (let i = 0; i + 4 < p.payload.length && types.length < 8; i++) {
        if (p.payload.readUInt32BE(i) === 1) types.push(p.payload[i + 4]! & 0x1f);
      }
      if (types.includes(5)) {
        assert.deepEqual(types.slice(0, 3), [9, 7, 8], 'AUD, SPS, PPS before the IDR');
        checked++;
      } else assert.equal(types[0], 9, 'AUD first');
    }
    assert.ok(checked >= starts.size);
    for (const a of audio) assert.equal(a.payload.readUInt16BE(0) & 0xfff6, 0xfff0, 'ADTS sync');
  });

  it('keeps sequence numbers across a new segmenter (republish) and marks the discontinuity', {
    skip: !tags && 'ffmpeg not installed',
  }, () => {
    const a = new HlsSegmenter(
      { targetDurationMs: 1000 },
      { nextSequence: 100, discontinuitySequence: 0, discontinuityNext: false },
    );
    for (const t of tags!) a.push(t, t.timestamp);
    a.end(0);
    const st = a.state();
    assert.ok(st.nextSequence > 102);
    const b = new HlsSegmenter({ targetDurationMs: 1000 }, { ...st, discontinuityNext: true });
    let first: HlsSegment | undefined;
    for (const t of tags!) first ??= b.push(t, t.timestamp);
    assert.equal(first!.sequence, st.nextSequence);
    assert.equal(first!.discontinuity, true);
  });
});

describe('renderMediaPlaylist', () => {
  const seg = (sequence: number, durationMs: number, discontinuity = false): HlsSegment => ({
    sequence,
    durationMs,
    discontinuity,
    data: Buffer.alloc(0),
    programDateTime: Date.UTC(2026, 0, 1, 0, 0, sequence),
    hasKeyframeStart: true,
    byteLength: 0,
  });
  it('renders a live window with a discontinuity (golden)', () => {
    const text = renderMediaPlaylist([seg(7, 1000), seg(8, 1001), seg(9, 1200, true)], 7, 2, {
      segmentUri: (s) => `x-${s.sequence}.ts?t=1`,
      ended: false,
      targetDurationMs: 1000,
    });
    assert.equal(
      text,
      [
        '#EXTM3U',
        '#EXT-X-VERSION:3',
        '#EXT-X-TARGETDURATION:1',
        '#EXT-X-MEDIA-SEQUENCE:7',
        '#EXT-X-DISCONTINUITY-SEQUENCE:2',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:07.000Z',
        '#EXTINF:1.000,',
        'x-7.ts?t=1',
        '#EXTINF:1.001,',
        'x-8.ts?t=1',
        '#EXT-X-DISCONTINUITY',
        '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:09.000Z',
        '#EXTINF:1.200,',
        'x-9.ts?t=1',
        '',
      ].join('\n'),
    );
  });
  it('raises TARGETDURATION for a long GOP and ends with ENDLIST', () => {
    const text = renderMediaPlaylist([seg(1, 4200), seg(2, 4200)], 1, 0, {
      segmentUri: (s) => `${s.sequence}.ts`,
      ended: true,
      targetDurationMs: 1000,
    });
    assert.match(text, /#EXT-X-TARGETDURATION:4\n/);
    assert.match(text, /#EXT-X-ENDLIST\n$/);
  });
});
