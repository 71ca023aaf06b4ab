import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { adtsHeader, parseAudioSpecificConfig } from '../codec/aac.ts';
import { describeAudioTag, describeVideoSequenceHeader } from '../codec/describe.ts';
import { parseMp3FrameHeader } from '../codec/mp3.ts';
import { MediaError } from '../errors.ts';
import { FlvDemuxer } from './demuxer.ts';
import { encodeFlvTag, flvFileHeader } from './tag.ts';
import { parseVideoTag } from './video.ts';

function ffmpegFlv(args: string[]): Buffer | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'rc-flv-'));
  try {
    const out = join(dir, 'x.flv');
    const r = spawnSync('ffmpeg', ['-v', 'error', ...args, '-f', 'flv', out]);
    return r.status === 0 ? readFileSync(out) : undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('FLV tags and demuxer', () => {
  it('writes tags byte-exact (extended timestamp byte holds bits 24..31) and the file header', () => {
    const t = encodeFlvTag(9, 0x12345678, Buffer.from([0xaa]));
    assert.deepEqual(t, Buffer.from('09000001345678120000' + '00' + 'aa' + '0000000c', 'hex'));
    assert.deepEqual(flvFileHeader(true, true), Buffer.from('464c5601050000000900000000', 'hex'));
  });

  const file = ffmpegFlv([
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x240:rate=25',
    '-f',
    'lavfi',
    '-i',
    'sine',
    '-t',
    '1',
    '-c:v',
    'libx264',
    '-c:a',
    'aac',
  ]);
  it('demuxes an ffmpeg file identically whole and split at every boundary of its first 2000 bytes; re-muxing is byte-identical', {
    skip: !file && 'ffmpeg not installed',
  }, () => {
    const whole = new FlvDemuxer().push(file!);
    assert.ok(whole.length > 20);
    for (let i = 1; i < 2000; i++) {
      const d = new FlvDemuxer();
      assert.deepEqual(
        [...d.push(file!.subarray(0, i)), ...d.push(file!.subarray(i))],
        whole,
        `split at ${i}`,
      );
    }
    const remux = Buffer.concat(whole.map((t) => encodeFlvTag(t.type, t.timestamp, t.data)));
    assert.deepEqual(remux, file!.subarray(13));
  });

  it('rejects a stream that is not FLV and oversized tags', () => {
    assert.throws(
      () => new FlvDemuxer().push(Buffer.from('GET / HTTP/1.1\r\n')),
      (e: unknown) => e instanceof MediaError && e.code === 'RC_FLV_BAD_HEADER',
    );
    const huge = Buffer.concat([flvFileHeader(true, true), Buffer.from('09ffffff00000000000000', 'hex')]);
    assert.throws(
      () => new FlvDemuxer({ maxTagBytes: 1000 }).push(huge),
      (e: unknown) => e instanceof MediaError && e.code === 'RC_FLV_TAG_TOO_LARGE',
    );
  });

  it('parses legacy AVC and Enhanced RTMP video tag headers', () => {
    assert.deepEqual(parseVideoTag(Buffer.from('1700000000', 'hex')).packetType, 'sequence-header');
    const inter = parseVideoTag(Buffer.from('27010000280000', 'hex'));
    assert.equal(inter.isKeyframe, false);
    assert.equal(inter.compositionTimeMs, 40);
    const hevcStart = parseVideoTag(Buffer.from('9068766331', 'hex')); // IsExHeader|key, SequenceStart, 'hvc1'
    assert.equal(hevcStart.codec, 'hevc');
    assert.equal(hevcStart.packetType, 'sequence-header');
    const hevcX = parseVideoTag(Buffer.from('936876633100', 'hex')); // CodedFramesX
    assert.equal(hevcX.packetType, 'coded-frames');
    assert.equal(hevcX.payloadOffset, 5);
  });
});

describe('codec configuration', () => {
  for (const [size, profile] of [
    ['640x360', 'high'],
    ['854x480', 'main'],
    ['1918x1078', 'baseline'],
  ] as const) {
    const f = ffmpegFlv([
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=${size}:rate=30`,
      '-t',
      '0.2',
      '-c:v',
      'libx264',
      '-profile:v',
      profile,
      '-pix_fmt',
      'yuv420p',
    ]);
    it(`describes H.264 ${profile} ${size} like ffprobe does`, { skip: !f && 'ffmpeg not installed' }, () => {
      const seq = new FlvDemuxer().push(f!).find((t) => t.type === 9)!;
      const v = describeVideoSequenceHeader(seq.data)!;
      const [w, h] = size.split('x').map(Number);
      assert.equal(v.codec, 'h264');
      assert.equal(v.width, w);
      assert.equal(v.height, h);
      assert.match(v.profile!, profile === 'baseline' ? /Baseline/ : new RegExp(`^${profile}$`, 'i'));
      assert.equal(v.frameRate, 30);
    });
  }

  it('AudioSpecificConfig and ADTS', () => {
    const lc = parseAudioSpecificConfig(Buffer.from([0x12, 0x10])); // AAC-LC, 44100 Hz, stereo
    assert.deepEqual([lc.audioObjectType, lc.sampleRateHz, lc.channelConfiguration], [2, 44100, 2]);
    const mono48 = parseAudioSpecificConfig(Buffer.from([0x11, 0x88])); // AAC-LC, 48000 Hz, mono
    assert.deepEqual([mono48.sampleRateHz, mono48.channelConfiguration], [48000, 1]);
    // ADTS for a 100-byte LC 44100 stereo frame: FFF1 50 80 0D FF FC (frame length 107)
    assert.deepEqual(adtsHeader(lc, 100), Buffer.from('fff150800d7ffc', 'hex'));
    assert.deepEqual(describeAudioTag(Buffer.from([0xaf, 0x00, 0x12, 0x10])), {
      codec: 'aac',
      profile: 'LC',
      sampleRateHz: 44100,
      channels: 2,
    });
  });

  it('MP3 frame headers', () => {
    const h = parseMp3FrameHeader(Buffer.from('fffb9064', 'hex')); // MPEG-1 L3 128 kbit/s 44100 Hz
    assert.deepEqual(
      [h.version, h.layer, h.bitrateKbps, h.sampleRateHz, h.frameBytes],
      [1, 3, 128, 44100, 417],
    );
    const padded = parseMp3FrameHeader(Buffer.from('fffb9264', 'hex'));
    assert.equal(padded.frameBytes, 418);
    const m2 = parseMp3FrameHeader(Buffer.from('fff38064', 'hex')); // MPEG-2 L3 64 kbit/s 22050 Hz
    assert.deepEqual([m2.version, m2.sampleRateHz, m2.samplesPerFrame], [2, 22050, 576]);
    assert.throws(() => parseMp3FrameHeader(Buffer.from('00000000', 'hex')), MediaError);
  });
});
