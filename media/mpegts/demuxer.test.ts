import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAvcDecoderConfig } from '../codec/avc.ts';
import { parseHevcDecoderConfig } from '../codec/hevc.ts';
import { parseAudioTag } from '../flv/audio.ts';
import { encodeFlvTag, flvFileHeader } from '../flv/tag.ts';
import { parseVideoTag } from '../flv/video.ts';
import { PPS, SPS } from '../hls/fixtures.ts';
import { HlsSegmenter } from '../hls/segmenter.ts';
import { type MediaTag, TAG_AUDIO, TAG_VIDEO } from '../tag.ts';
import { crc32Mpeg2 } from './crc32.ts';
import { TsDemuxer } from './demuxer.ts';
import { TsMuxer } from './muxer.ts';

const START = Buffer.from([0, 0, 0, 1]);
const AUD = Buffer.from([0x09, 0xf0]);
const idr = (seed: number) =>
  Buffer.concat([Buffer.from([0x65]), Buffer.alloc(300 + seed, (seed % 250) + 1)]);
const pSlice = (seed: number) =>
  Buffer.concat([Buffer.from([0x41]), Buffer.alloc(90 + seed, (seed % 250) + 1)]);
const annexB = (...nals: Buffer[]) => Buffer.concat(nals.flatMap((n) => [START, n]));
/** ADTS AAC-LC 48 kHz stereo, protection_absent, raw payload of n bytes. */
function adtsFrame(n: number, seed: number): Buffer {
  const len = n + 7;
  const h = Buffer.from([
    0xff,
    0xf1,
    (1 << 6) | (3 << 2),
    (2 << 6) | (len >> 11),
    (len >> 3) & 0xff,
    ((len & 7) << 5) | 0x1f,
    0xfc,
  ]);
  return Buffer.concat([h, Buffer.alloc(n, seed)]);
}

/** H.264 + AAC through our own muxer: 2 GOPs of 25 fps video from t0, AAC every 1024/48 ms. */
function muxedH264Aac(t0Ms: number, muxer = new TsMuxer({ audioPesMaxMs: 0 })): Buffer {
  muxer.setTracks({ video: 'h264', audio: 'aac' });
  muxer.writeTables();
  for (let i = 0; i < 50; i++) {
    const t = t0Ms + i * 40;
    const key = i % 25 === 0;
    const au = key ? annexB(AUD, SPS, PPS, idr(i)) : annexB(AUD, pSlice(i));
    muxer.writeVideo(au, t + 80, t, key);
    muxer.writeAudio(adtsFrame(50, i), t0Ms + i * (1024 / 48));
  }
  return muxer.flush();
}

function demuxAll(chunks: Buffer[], d = new TsDemuxer()): MediaTag[] {
  const tags: MediaTag[] = [];
  for (const c of chunks) tags.push(...d.push(c));
  tags.push(...d.end());
  return tags;
}

const hex = (tags: MediaTag[]) => tags.map((t) => `${t.type}@${t.timestamp}:${t.data.toString('hex')}`);

describe('TsDemuxer: H.264 + AAC byte-exact', () => {
  const ts = muxedH264Aac(1000);
  const tags = demuxAll([ts]);
  const video = tags.filter((t) => t.type === TAG_VIDEO);
  const audio = tags.filter((t) => t.type === TAG_AUDIO);

  it('turns SPS/PPS into one AVC sequence header and Annex B into AVCC frames without AUDs', () => {
    // AVCDecoderConfigurationRecord: version 1, profile/compat/level from the SPS, 4-byte lengths
    const expectedSeq = Buffer.concat([
      Buffer.from([0x17, 0, 0, 0, 0, 1, SPS[1]!, SPS[2]!, SPS[3]!, 0xff, 0xe1, 0, SPS.length]),
      SPS,
      Buffer.from([1, 0, PPS.length]),
      PPS,
    ]);
    assert.equal(video[0]!.data.toString('hex'), expectedSeq.toString('hex'));
    assert.equal(
      parseAvcDecoderConfig(video[0]!.data.subarray(5)).sps[0]!.toString('hex'),
      SPS.toString('hex'),
    );
    const key = idr(0);
    const expectedKey = Buffer.concat([Buffer.from([0x17, 1, 0, 0, 80, 0, 0, 1, 0x2d]), key]);
    assert.equal(video[1]!.data.toString('hex'), expectedKey.toString('hex'));
    const p = pSlice(1);
    assert.equal(
      video[2]!.data.toString('hex'),
      Buffer.concat([Buffer.from([0x27, 1, 0, 0, 80, 0, 0, 0, p.length]), p]).toString('hex'),
    );
    assert.equal(video.length, 1 + 50);
    assert.equal(video.filter((t) => t.data[0] === 0x17 && t.data[1] === 1).length, 2);
  });

  it('anchors the timeline on the first PCR (DTS − 200 ms in our muxer) and keeps 40 ms steps', () => {
    assert.equal(video[1]!.timestamp, 200);
    for (let i = 1; i < 50; i++) assert.equal(video[i + 1]!.timestamp, 200 + i * 40);
  });

  it('strips ADTS into an AudioSpecificConfig (LC, 48 kHz, stereo) and raw frames', () => {
    assert.equal(audio[0]!.data.toString('hex'), 'af00' + '1190');
    assert.equal(audio.length, 51);
    assert.equal(audio[1]!.data.toString('hex'), `af01${Buffer.alloc(50, 0).toString('hex')}`);
    assert.equal(audio[1]!.timestamp, 200);
    assert.equal(audio[50]!.timestamp, Math.round(200 + (49 * 1024) / 48));
  });

  it('gives the same tags split at every byte boundary, and in 7-byte pieces', () => {
    const whole = hex(tags);
    const cut = ts.subarray(0, 188 * 12);
    const ref = hex(demuxAll([cut]));
    for (let at = 1; at < cut.length; at++) {
      assert.deepEqual(hex(demuxAll([cut.subarray(0, at), cut.subarray(at)])), ref, `split at ${at}`);
    }
    const pieces: Buffer[] = [];
    for (let i = 0; i < ts.length; i += 7) pieces.push(ts.subarray(i, i + 7));
    assert.deepEqual(hex(demuxAll(pieces)), whole);
  });

  it('has no problems and counts packets', () => {
    const d = new TsDemuxer();
    demuxAll([ts], d);
    assert.deepEqual(d.takeProblems(), []);
    assert.equal(d.stats.packets, ts.length / 188);
    assert.equal(d.stats.ccErrors + d.stats.pesErrors + d.stats.psiErrors + d.stats.syncLosses, 0);
    assert.deepEqual(
      { video: d.programInfo?.video?.codec, audio: d.programInfo?.audio?.codec },
      { video: 'h264', audio: 'aac' },
    );
  });
});

describe('TsDemuxer: damaged input', () => {
  const ts = muxedH264Aac(1000);

  it('resyncs after garbage before, between and inside packets', () => {
    const garbage = Buffer.from('47deadbeef47001122334455', 'hex');
    const d = new TsDemuxer();
    const tags = demuxAll([garbage, ts.subarray(0, 188 * 20), garbage, ts.subarray(188 * 20)], d);
    assert.equal(d.stats.syncLosses >= 1, true);
    assert.equal(d.stats.skippedBytes >= garbage.length, true);
    // everything after the resync arrives: the last video frame is there
    assert.equal(tags.filter((t) => t.type === TAG_VIDEO).at(-1)!.timestamp, 200 + 49 * 40);
    assert.ok(d.takeProblems().some((p) => p.code === 'RC_TS_SYNC_LOST'));
  });

  it('counts a continuity gap, drops the damaged PES and goes on', () => {
    // drop one packet in the middle of a video PES (packet 30 is not a PUSI: check)
    const packets: Buffer[] = [];
    for (let i = 0; i < ts.length; i += 188) packets.push(ts.subarray(i, i + 188));
    const victim = packets.findIndex(
      (p, i) => i > 10 && (p.readUInt16BE(1) & 0x1fff) === 0x100 && !(p[1]! & 0x40),
    );
    const d = new TsDemuxer();
    const tags = demuxAll([Buffer.concat(packets.filter((_, i) => i !== victim))], d);
    assert.equal(d.stats.ccErrors, 1);
    assert.equal(d.stats.pesErrors, 1);
    assert.equal(tags.filter((t) => t.type === TAG_VIDEO).length, 50); // one frame fewer
    assert.ok(d.takeProblems().some((p) => p.code === 'RC_TS_CC_ERROR'));
  });

  it('ignores a duplicated packet (same continuity_counter) and a packet with transport_error_indicator', () => {
    const packets: Buffer[] = [];
    for (let i = 0; i < ts.length; i += 188) packets.push(ts.subarray(i, i + 188));
    const bad = Buffer.from(packets[5]!);
    bad[1]! |= 0x80;
    const d = new TsDemuxer();
    const withDup = [...packets.slice(0, 12), packets[11]!, bad, ...packets.slice(12)];
    assert.deepEqual(hex(demuxAll([Buffer.concat(withDup)], d)), hex(demuxAll([ts])));
    assert.equal(d.stats.ccErrors, 0);
    assert.equal(d.stats.transportErrors, 1);
  });

  it('rejects a PSI section with a bad CRC and carries nothing until a good PAT/PMT comes', () => {
    const bad = Buffer.from(ts);
    bad[5 + 9]! ^= 0x01; // the PAT's program_number, inside its CRC
    const d = new TsDemuxer();
    assert.deepEqual(demuxAll([bad], d), []);
    assert.equal(d.stats.psiErrors, 1);
    assert.deepEqual(
      d.takeProblems().map((p) => p.code),
      ['RC_TS_PSI_INVALID'],
    );
    const good = new TsDemuxer();
    assert.equal(demuxAll([bad, ts], good).length, 102); // the next PAT/PMT bring it up
  });

  it('survives truncated datagrams (packets cut short) and keeps going', () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < ts.length; i += 1316)
      chunks.push(ts.subarray(i, Math.min(ts.length, i + 1316 - (i % 5 === 0 ? 50 : 0))));
    const d = new TsDemuxer();
    const tags = demuxAll(chunks, d);
    assert.ok(tags.length > 10);
    assert.ok(d.stats.syncLosses > 0);
  });
});

describe('TsDemuxer: timestamps', () => {
  it('unwraps the 33-bit PTS/DTS: a stream crossing 2^33 stays monotonic in 40 ms steps', () => {
    const wrapMs = 2 ** 33 / 90;
    const tags = demuxAll([muxedH264Aac(wrapMs - 1000)]).filter((t) => t.type === TAG_VIDEO);
    for (let i = 2; i < tags.length; i++) assert.equal(tags[i]!.timestamp - tags[i - 1]!.timestamp, 40);
  });

  it('treats an encoder restarted a few seconds in (3 s back) as a discontinuity, not a stall', () => {
    const d = new TsDemuxer();
    const first = demuxAll([muxedH264Aac(4000)], d).filter((t) => t.type === TAG_VIDEO);
    const second = demuxAll([muxedH264Aac(1000)], d).filter((t) => t.type === TAG_VIDEO);
    assert.equal(d.stats.discontinuities, 1);
    const gap = second[1]!.timestamp - first.at(-1)!.timestamp;
    assert.ok(gap > 0 && gap <= 100, `gap ${gap} ms`); // about a frame, not 3 s back nor a stall
    for (let i = 2; i < second.length; i++) assert.equal(second[i]!.timestamp - second[i - 1]!.timestamp, 40);
  });

  it('continues the timeline across a source restart with new timestamps (backwards and forwards)', () => {
    const d = new TsDemuxer();
    const first = demuxAll([muxedH264Aac(50_000)], d);
    const lastBefore = Math.max(...first.map((t) => t.timestamp));
    const second = demuxAll([muxedH264Aac(1000)], d); // restarted encoder: timestamps went back 49 s
    const third = demuxAll([muxedH264Aac(900_000)], d); // and then far forward
    assert.equal(d.stats.discontinuities, 2);
    const all = [...first, ...second, ...third];
    for (const type of [TAG_VIDEO, TAG_AUDIO]) {
      const ts = all.filter((t) => t.type === type).map((t) => t.timestamp);
      for (let i = 1; i < ts.length; i++)
        assert.ok(ts[i]! >= ts[i - 1]!, `type ${type}: ${ts[i - 1]} → ${ts[i]}`);
    }
    assert.ok(second[0]!.timestamp > lastBefore && second[0]!.timestamp < lastBefore + 1000);
    assert.ok(d.takeProblems().some((p) => p.code === 'RC_TS_TIMESTAMP_JUMP'));
  });
});

/** A PSI section with its CRC, in one packet (pointer_field 0, 0xFF stuffing). */
function psiPacket(pid: number, tableId: number, idExt: number, body: Buffer, cc = 0): Buffer {
  const section = Buffer.concat([
    Buffer.from([
      tableId,
      0xb0 | ((body.length + 9) >> 8),
      (body.length + 9) & 0xff,
      idExt >> 8,
      idExt & 0xff,
      0xc1,
      0,
      0,
    ]),
    body,
  ]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32Mpeg2(section));
  const p = Buffer.alloc(188, 0xff);
  Buffer.from([0x47, 0x40 | (pid >> 8), pid & 0xff, 0x10 | cc, 0]).copy(p);
  Buffer.concat([section, crc]).copy(p, 5);
  return p;
}
const u16 = (v: number) => [v >> 8, v & 0xff];
function pmtBody(pcrPid: number, streams: [number, number, number[]][]): Buffer {
  const parts = [Buffer.from([...u16(0xe000 | pcrPid), 0xf0, 0])];
  for (const [type, pid, desc] of streams)
    parts.push(Buffer.from([type, ...u16(0xe000 | pid), ...u16(0xf000 | desc.length), ...desc]));
  return Buffer.concat(parts);
}
/** Media packets of our muxer without its PAT/PMT. */
function mediaOnly(ts: Buffer, pmtPid: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < ts.length; i += 188) {
    const pid = ts.readUInt16BE(i + 1) & 0x1fff;
    if (pid !== 0 && pid !== pmtPid) out.push(ts.subarray(i, i + 188));
  }
  return Buffer.concat(out);
}

describe('TsDemuxer: programs and codecs', () => {
  // program 1: H.264 on 0x100 + AAC on 0x101 (PMT 0x1000); program 7: H.264 on 0x200 (PMT 0x1100)
  const pat = psiPacket(0, 0, 1, Buffer.from([0, 1, ...u16(0xe000 | 0x1000), 0, 7, ...u16(0xe000 | 0x1100)]));
  const pmt1 = psiPacket(
    0x1000,
    2,
    1,
    pmtBody(0x100, [
      [0x1b, 0x100, []],
      [0x0f, 0x101, []],
    ]),
  );
  const pmt7 = psiPacket(0x1100, 2, 7, pmtBody(0x200, [[0x1b, 0x200, []]]));
  const media1 = mediaOnly(muxedH264Aac(1000), 0x1000);
  const m7 = new TsMuxer({ videoPid: 0x200, audioPid: 0x201, pmtPid: 0x1100 });
  m7.setTracks({ video: 'h264' });
  m7.writeTables();
  for (let i = 0; i < 10; i++)
    m7.writeVideo(annexB(SPS, PPS, idr(100 + i)), 5000 + i * 40, 5000 + i * 40, true);
  const media7 = mediaOnly(m7.flush(), 0x1100);
  const input = Buffer.concat([pat, pmt1, pmt7, media1, media7]);

  it('takes the first program by default', () => {
    const d = new TsDemuxer();
    const tags = demuxAll([input], d);
    assert.equal(d.programInfo?.programNumber, 1);
    assert.equal(tags.filter((t) => t.type === TAG_VIDEO).length, 51);
    assert.equal(tags.filter((t) => t.type === TAG_AUDIO).length, 51);
  });

  it('takes the chosen program, and says so when it is missing', () => {
    const d = new TsDemuxer({ programNumber: 7 });
    const tags = demuxAll([input], d);
    assert.equal(d.programInfo?.programNumber, 7);
    assert.equal(tags.filter((t) => t.type === TAG_VIDEO).length, 11);
    assert.equal(tags.filter((t) => t.type === TAG_AUDIO).length, 0);
    const missing = new TsDemuxer({ programNumber: 9 });
    assert.deepEqual(demuxAll([input], missing), []);
    assert.deepEqual(
      missing.takeProblems().map((p) => p.code),
      ['RC_TS_PROGRAM_NOT_FOUND'],
    );
  });

  for (const [name, type, desc] of [
    ['LATM', 0x11, []],
    ['AC-3', 0x81, []],
    ['AC-3 as private data with an AC-3 descriptor', 0x06, [0x6a, 1, 0]],
  ] as [string, number, number[]][]) {
    it(`refuses ${name} audio with RC_TS_CODEC_UNSUPPORTED and still carries the video`, () => {
      const pmt = psiPacket(
        0x1000,
        2,
        1,
        pmtBody(0x100, [
          [0x1b, 0x100, []],
          [type, 0x101, desc],
        ]),
      );
      const d = new TsDemuxer();
      const tags = demuxAll([Buffer.concat([pat, pmt, media1])], d);
      assert.deepEqual(
        d.takeProblems().map((p) => p.code),
        ['RC_TS_CODEC_UNSUPPORTED'],
      );
      assert.equal(tags.filter((t) => t.type === TAG_AUDIO).length, 0);
      assert.equal(tags.filter((t) => t.type === TAG_VIDEO).length, 51);
    });
  }

  it('carries the new codec after a PMT change: AAC, then MPEG audio on the same PID', () => {
    const mp3Frame = Buffer.concat([Buffer.from('fffb9064', 'hex'), Buffer.alloc(413, 7)]); // MPEG-1 L3 128k 44.1k: 417 bytes
    const m = new TsMuxer({ audioPesMaxMs: 0 });
    m.setTracks({ video: 'h264', audio: 'mp3', audioSampleRateHz: 44100 });
    m.writeTables();
    for (let i = 0; i < 10; i++) m.writeAudio(mp3Frame, 3000 + i * 26);
    const d = new TsDemuxer();
    const tags = demuxAll([muxedH264Aac(1000), m.flush()], d);
    const formats = tags.filter((t) => t.type === TAG_AUDIO).map((t) => t.data[0]! >> 4);
    assert.equal(formats.filter((f) => f === 10).length, 51);
    assert.equal(formats.filter((f) => f === 2).length, 10);
    assert.ok(formats.lastIndexOf(10) < formats.indexOf(2));
    assert.equal(d.stats.pmtChanges, 1);
    assert.equal(d.programInfo?.audio?.codec, 'mpeg-audio');
  });

  it('follows a PMT that changes codecs mid-stream (audio PID swapped to MPEG audio) and counts it', () => {
    const pmtB = psiPacket(
      0x1000,
      2,
      1,
      pmtBody(0x100, [
        [0x1b, 0x100, []],
        [0x03, 0x101, []],
      ]),
      1,
    );
    const d = new TsDemuxer();
    demuxAll([Buffer.concat([pat, pmt1, media1.subarray(0, 188 * 30), pmtB])], d);
    assert.equal(d.stats.pmtChanges, 1);
    assert.equal(d.programInfo?.audio?.codec, 'mpeg-audio');
  });
});

// ---- real ffmpeg files ----

function ffmpegTs(args: string[]): Buffer | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'rc-ts-'));
  try {
    const out = join(dir, 'x.ts');
    const r = spawnSync('ffmpeg', ['-v', 'error', ...args, '-f', 'mpegts', out], { timeout: 120_000 });
    return r.status === 0 ? readFileSync(out) : undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
function ffprobe(
  file: Buffer,
  ext: string,
): { codec_name: string; width?: number; height?: number }[] | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'rc-ts-'));
  try {
    const path = join(dir, `x.${ext}`);
    writeFileSync(path, file);
    const r = spawnSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', path], {
      encoding: 'utf8',
    });
    return r.status === 0 ? JSON.parse(r.stdout).streams : undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const lavfi = (video: string, audio: string) => [
  '-f',
  'lavfi',
  '-i',
  video,
  '-f',
  'lavfi',
  '-i',
  audio,
  '-t',
  '2',
];
function toFlv(tags: MediaTag[]): Buffer {
  return Buffer.concat([
    flvFileHeader(true, true),
    ...tags.map((t) => encodeFlvTag(t.type, t.timestamp, t.data)),
  ]);
}
function monotonic(tags: MediaTag[], type: number): boolean {
  const ts = tags.filter((t) => t.type === type).map((t) => t.timestamp);
  return ts.every((v, i) => i === 0 || v >= ts[i - 1]!);
}

describe('TsDemuxer: files made by ffmpeg', { concurrency: false }, () => {
  const h264aac = ffmpegTs([
    ...lavfi('testsrc2=size=320x240:rate=25', 'sine=frequency=440:sample_rate=44100'),
    '-c:v',
    'libx264',
    '-g',
    '25',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    '-b:a',
    '64k',
  ]);
  it('H.264 + AAC: FLV made from the tags probes as h264 320x240 + aac', {
    skip: !h264aac && 'ffmpeg/libx264 unavailable',
  }, () => {
    const d = new TsDemuxer();
    const tags = demuxAll([h264aac!], d);
    assert.deepEqual(d.takeProblems(), []);
    assert.ok(monotonic(tags, TAG_VIDEO) && monotonic(tags, TAG_AUDIO));
    assert.equal(
      tags.filter((t) => t.type === TAG_VIDEO && parseVideoTag(t.data).packetType === 'coded-frames').length,
      50,
    );
    const streams = ffprobe(toFlv(tags), 'flv')!;
    const v = streams.find((s) => s.codec_name === 'h264');
    assert.deepEqual([v?.width, v?.height], [320, 240]);
    assert.ok(streams.some((s) => s.codec_name === 'aac'));
  });

  const hevcMp2 = ffmpegTs([
    ...lavfi('testsrc2=size=320x240:rate=25', 'sine=frequency=440:sample_rate=48000'),
    '-c:v',
    'libx265',
    '-x265-params',
    'log-level=error:keyint=25',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'mp2',
    '-b:a',
    '128k',
  ]);
  it('H.265 + MP2: Enhanced RTMP hvc1 tags with a valid hvcC; MP2 as SoundFormat 2; HLS of it probes as hevc + mp2', {
    skip: !hevcMp2 && 'ffmpeg/libx265 unavailable',
  }, () => {
    const d = new TsDemuxer();
    const tags = demuxAll([hevcMp2!], d);
    assert.deepEqual(d.takeProblems(), []);
    const seq = tags.find((t) => t.type === TAG_VIDEO)!;
    const info = parseVideoTag(seq.data);
    assert.deepEqual([info.enhanced, info.fourCC, info.packetType], [true, 'hvc1', 'sequence-header']);
    const cfg = parseHevcDecoderConfig(seq.data.subarray(5));
    assert.deepEqual([cfg.vps.length, cfg.sps.length, cfg.pps.length, cfg.generalProfileIdc], [1, 1, 1, 1]);
    const audio = tags.filter((t) => t.type === TAG_AUDIO);
    assert.ok(audio.length > 50);
    assert.equal(parseAudioTag(audio[0]!.data).codec, 'mp3');
    assert.ok(monotonic(tags, TAG_VIDEO) && monotonic(tags, TAG_AUDIO));
    // the HLS packager takes these tags as they are; ffprobe reads the codecs back
    const seg = new HlsSegmenter({ targetDurationMs: 60_000 });
    for (const t of tags) seg.push(t, t.timestamp);
    const out = seg.end(10_000)!;
    const streams = ffprobe(out.data, 'ts')!;
    const v = streams.find((s) => s.codec_name === 'hevc');
    assert.deepEqual([v?.width, v?.height], [320, 240]);
    assert.ok(
      streams.some((s) => s.codec_name === 'mp2'),
      JSON.stringify(streams.map((s) => s.codec_name)),
    );
  });

  const mp3 = ffmpegTs([
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=44100',
    '-t',
    '2',
    '-c:a',
    'libmp3lame',
    '-b:a',
    '128k',
  ]);
  it('MP3 audio only: FLV made from the tags probes as mp3', {
    skip: !mp3 && 'ffmpeg/libmp3lame unavailable',
  }, () => {
    const d = new TsDemuxer();
    const tags = demuxAll([mp3!], d);
    assert.deepEqual(d.takeProblems(), []);
    assert.ok(tags.length >= 70);
    assert.ok(tags.every((t) => t.type === TAG_AUDIO && t.data[0]! >> 4 === 2));
    const streams = ffprobe(toFlv(tags), 'flv')!;
    assert.equal(streams[0]?.codec_name, 'mp3');
  });
});
