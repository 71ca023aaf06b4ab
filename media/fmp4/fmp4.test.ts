import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FlvDemuxer } from '../flv/demuxer.ts';
import { avcC, avcFrame, avcSequenceHeader } from '../hls/fixtures.ts';
import type { MediaTag } from '../tag.ts';
import { box, fullBox } from './boxes.ts';
import { SAMPLE_FLAGS_NON_SYNC, SAMPLE_FLAGS_SYNC, writeFragment } from './fragment.ts';
import { codecString, type Fmp4AudioTrack, type Fmp4VideoTrack, ftyp, writeInitSegment } from './init.ts';
import { Fmp4Samples, type TimedSample } from './samples.ts';

/** Top-level boxes of a buffer: [type, start, size]. */
function boxes(buf: Buffer, start = 0, end = buf.length): [string, number, number][] {
  const out: [string, number, number][] = [];
  let pos = start;
  while (pos + 8 <= end) {
    const size = buf.readUInt32BE(pos);
    assert.ok(size >= 8 && pos + size <= end, `box at ${pos} has size ${size}`);
    out.push([buf.toString('latin1', pos + 4, pos + 8), pos, size]);
    pos += size;
  }
  assert.equal(pos, end, 'boxes fill their parent exactly');
  return out;
}

/** The box at a path of types (first of each), as [start, size]. */
function find(buf: Buffer, path: string[], containerHeader: Record<string, number> = {}): [number, number] {
  let start = 0;
  let end = buf.length;
  let found: [number, number] = [0, 0];
  for (const type of path) {
    const hit = boxes(buf, start, end).find((b) => b[0] === type);
    assert.ok(hit, `no ${type} box in ${path.join('/')}`);
    found = [hit[1], hit[2]];
    start = hit[1] + 8 + (containerHeader[type] ?? 0);
    end = hit[1] + hit[2];
  }
  return found;
}

const VIDEO: Fmp4VideoTrack = {
  kind: 'video',
  trackId: 1,
  codec: 'avc',
  timescale: 90000,
  width: 1280,
  height: 720,
  record: avcC(),
};
const AUDIO: Fmp4AudioTrack = {
  kind: 'audio',
  trackId: 2,
  codec: 'aac',
  timescale: 44100,
  sampleRateHz: 44100,
  channels: 2,
  asc: Buffer.from([0x12, 0x10]),
};

describe('fMP4 boxes (ISO/IEC 14496-12)', () => {
  it('box and fullBox headers', () => {
    assert.deepEqual(
      box('free', Buffer.from([1, 2])),
      Buffer.from([0, 0, 0, 10, 0x66, 0x72, 0x65, 0x65, 1, 2]),
    );
    assert.deepEqual(
      fullBox('mfhd', 1, 0x020000, Buffer.from([0, 0, 0, 7])),
      Buffer.from('000000106d66686401020000' + '00000007', 'hex'),
    );
  });

  it('ftyp: iso6 major brand, iso6/cmfc/mp41 compatible', () => {
    assert.equal(
      ftyp().toString('hex'),
      `0000001c${Buffer.from('ftypiso6').toString('hex')}00000000${Buffer.from('iso6cmfcmp41').toString('hex')}`,
    );
  });

  it('init segment: ftyp, moov with mvhd, two traks and mvex/trex; avcC and esds verbatim', () => {
    const init = writeInitSegment([VIDEO, AUDIO]);
    assert.deepEqual(
      boxes(init).map((b) => b[0]),
      ['ftyp', 'moov'],
    );
    const [moovAt, moovSize] = find(init, ['moov']);
    assert.deepEqual(
      boxes(init, moovAt + 8, moovAt + moovSize).map((b) => b[0]),
      ['mvhd', 'trak', 'trak', 'mvex'],
    );
    // mvhd v0: timescale 1000 at offset 12+8, next_track_ID 3 at the end
    const [mvhdAt, mvhdSize] = find(init, ['moov', 'mvhd']);
    assert.equal(mvhdSize, 108);
    assert.equal(init.readUInt32BE(mvhdAt + 20), 1000);
    assert.equal(init.readUInt32BE(mvhdAt + mvhdSize - 4), 3);
    // tkhd of the video track: 92 bytes, flags 3, track 1, 1280x720 in 16.16
    const [tkhdAt, tkhdSize] = find(init, ['moov', 'trak', 'tkhd']);
    assert.equal(tkhdSize, 92);
    assert.equal(init.readUInt32BE(tkhdAt + 8), 3);
    assert.equal(init.readUInt32BE(tkhdAt + 20), 1);
    assert.equal(init.readUInt32BE(tkhdAt + 84), 1280 << 16);
    assert.equal(init.readUInt32BE(tkhdAt + 88), 720 << 16);
    // mdhd: timescale 90000, language und
    const [mdhdAt] = find(init, ['moov', 'trak', 'mdia', 'mdhd']);
    assert.equal(init.readUInt32BE(mdhdAt + 20), 90000);
    assert.equal(init.readUInt16BE(mdhdAt + 28), 0x55c4);
    const [hdlrAt] = find(init, ['moov', 'trak', 'mdia', 'hdlr']);
    assert.equal(init.toString('latin1', hdlrAt + 16, hdlrAt + 20), 'vide');
    // stsd (FullBox + entry_count) > avc1 (78-byte VisualSampleEntry) > avcC = the record as is
    const [avc1At, avc1Size] = find(init, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd', 'avc1'], {
      stsd: 8,
    });
    assert.equal(init.readUInt16BE(avc1At + 8 + 6), 1, 'data_reference_index');
    assert.equal(init.readUInt16BE(avc1At + 8 + 24), 1280);
    assert.equal(init.readUInt16BE(avc1At + 8 + 26), 720);
    const avcCBox = init.subarray(avc1At + 8 + 78, avc1At + avc1Size);
    assert.deepEqual(avcCBox, box('avcC', VIDEO.record));
    // trex for both tracks
    const [mvexAt, mvexSize] = find(init, ['moov', 'mvex']);
    const trexes = boxes(init, mvexAt + 8, mvexAt + mvexSize);
    assert.deepEqual(
      trexes.map((b) => b[0]),
      ['trex', 'trex'],
    );
    assert.equal(init.readUInt32BE(trexes[1]![1] + 12), 2);
    // the audio trak: mp4a with esds: ES_Descriptor > DecoderConfigDescriptor(0x40, audio) > ASC
    const audioTrak = boxes(init, moovAt + 8, moovAt + moovSize)[2]!;
    const trak = init.subarray(audioTrak[1], audioTrak[1] + audioTrak[2]);
    const [mp4aAt, mp4aSize] = find(trak, ['trak', 'mdia', 'minf', 'stbl', 'stsd', 'mp4a'], { stsd: 8 });
    assert.equal(trak.readUInt16BE(mp4aAt + 8 + 16), 2, 'channelcount');
    assert.equal(trak.readUInt32BE(mp4aAt + 8 + 24), (44100 << 16) >>> 0);
    const esds = trak.subarray(mp4aAt + 8 + 28, mp4aAt + mp4aSize);
    assert.equal(
      esds.toString('hex'),
      // size 0x33, 'esds', v0 flags 0,
      '00000033657364730000000003' +
        '80808022' + // ES_Descriptor, length 34
        '000200' + // ES_ID 2, flags 0
        '0480808014' + // DecoderConfigDescriptor, length 20
        '4015000000' + // objectTypeIndication 0x40, streamType audio, bufferSizeDB 0
        '0000000000000000' + // max/avg bitrate
        '05808080021210' + // DecoderSpecificInfo: the AudioSpecificConfig
        '068080800102', // SLConfigDescriptor predefined 2
    );
    assert.equal(codecString(VIDEO), 'avc1.64001f');
    assert.equal(codecString(AUDIO), 'mp4a.40.2');
  });

  it('moof/mdat: mfhd sequence, tfhd default-base-is-moof, tfdt v1, trun v1 with sizes, durations, flags, offsets', () => {
    const v1 = Buffer.from([0, 0, 0, 2, 0x65, 0x88]);
    const v2 = Buffer.from([0, 0, 0, 1, 0x41]);
    const a1 = Buffer.from([0x21, 0x10, 0x04]);
    const frag = writeFragment(7, [
      {
        trackId: 1,
        baseMediaDecodeTime: 2 ** 33 + 5, // past 32 bits: tfdt version 1
        compositionOffsets: true,
        samples: [
          { data: v1, duration: 3000, compositionOffset: 6000, sync: true },
          { data: v2, duration: 3000, compositionOffset: -3000, sync: false },
        ],
      },
      {
        trackId: 2,
        baseMediaDecodeTime: 1024,
        compositionOffsets: false,
        samples: [{ data: a1, duration: 1024, compositionOffset: 0, sync: true }],
      },
    ]);
    const video = [
      '0000006074726166', // traf 96
      '0000001074666864' + '00020000' + '00000001', // tfhd flags default-base-is-moof, track 1
      '0000001474666474' + '01000000' + '0000000200000005', // tfdt v1
      '000000347472756e' + '01000f01' + '00000002' + '000000cc', // trun v1, 2 samples, data_offset 196 + 8
      `00000bb8000000060${SAMPLE_FLAGS_SYNC.toString(16).padStart(7, '0')}00001770`,
      `00000bb800000005${SAMPLE_FLAGS_NON_SYNC.toString(16).padStart(8, '0')}fffff448`,
    ].join('');
    const audio = [
      '0000004c74726166', // traf 76
      '0000001074666864' + '00020000' + '00000002',
      '0000001474666474' + '01000000' + '0000000000000400',
      '000000207472756e' + '01000701' + '00000001' + '000000d7', // no CTO; data_offset 204 + 11
      '00000400' + '00000003' + '02000000',
    ].join('');
    const moof = `000000c46d6f6f66000000106d6668640000000000000007${video}${audio}`;
    const mdat = `000000166d646174${v1.toString('hex')}${v2.toString('hex')}${a1.toString('hex')}`;
    assert.equal(frag.toString('hex'), moof + mdat);
    assert.equal(
      writeFragment(1, [{ trackId: 1, baseMediaDecodeTime: 0, compositionOffsets: true, samples: [] }])
        .length,
      0,
    );
  });
});

describe('Fmp4Samples: FLV tags to timed samples', () => {
  function collect(tags: MediaTag[], between?: (s: Fmp4Samples) => void) {
    const out: TimedSample[] = [];
    const events: boolean[] = [];
    const s = new Fmp4Samples({ sample: (x) => out.push(x), discontinuity: (c) => events.push(c) });
    for (const t of tags) s.push(t);
    between?.(s);
    return { s, out, events };
  }

  it('drops frames before the first keyframe, holds one frame for its duration, converts to 90 kHz', () => {
    const { s, out } = collect([
      avcSequenceHeader(0),
      avcFrame(0, false),
      avcFrame(40, true, { cts: 80 }),
      avcFrame(80, false, { cts: 40 }),
      avcFrame(120, false),
    ]);
    assert.equal(s.video?.width, 1280);
    assert.equal(s.video?.height, 720);
    assert.deepEqual(
      out.map((x) => [x.decodeTime, x.duration, x.compositionOffset, x.sync]),
      [
        [3600, 3600, 7200, true],
        [7200, 3600, 3600, false],
      ],
    );
    s.flush();
    assert.deepEqual([out[2]!.decodeTime, out[2]!.duration], [10800, 3600]);
  });

  it('a republish (timestamps back to 0) continues the timeline where it ended', () => {
    const gop = (base: number) => [
      avcFrame(base, true),
      avcFrame(base + 40, false),
      avcFrame(base + 80, false),
    ];
    const { s, out, events } = collect([avcSequenceHeader(0), ...gop(1000)]);
    s.markDiscontinuity();
    for (const t of [avcSequenceHeader(0), ...gop(0)]) s.push(t);
    s.flush();
    assert.deepEqual(
      out.map((x) => x.decodeTime),
      [1000, 1040, 1080, 1120, 1160, 1200].map((ms) => ms * 90),
    );
    assert.deepEqual(events, [true, false]);
  });
});

// ---- real media through ffmpeg / ffprobe ----

const haveFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;

describe('fMP4 from a real FLV decodes in ffmpeg', { skip: !haveFfmpeg && 'ffmpeg not installed' }, () => {
  let dir: string;
  let tags: MediaTag[];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rc-fmp4-'));
    const flv = join(dir, 'in.flv');
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=320x240:rate=30',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=44100',
      '-t',
      '4',
      '-c:v',
      'libx264',
      '-bf',
      '2',
      '-g',
      '45',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-b:a',
      '96k',
      '-f',
      'flv',
      flv,
    ]);
    tags = new FlvDemuxer().push(readFileSync(flv));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Muxes tags to init + one fragment per ~10 video frames (`between` runs after the first pass). */
  function mux(passes: number): { file: Buffer; samples: TimedSample[] } {
    const pending: TimedSample[] = [];
    const all: TimedSample[] = [];
    const chunks: Buffer[] = [];
    let seq = 1;
    let s: Fmp4Samples | undefined;
    const flushFragment = () => {
      const v = pending.filter((x) => x.track === 'video');
      const a = pending.filter((x) => x.track === 'audio');
      chunks.push(
        writeFragment(seq++, [
          { trackId: 1, baseMediaDecodeTime: v[0]?.decodeTime ?? 0, compositionOffsets: true, samples: v },
          { trackId: 2, baseMediaDecodeTime: a[0]?.decodeTime ?? 0, compositionOffsets: false, samples: a },
        ]),
      );
      pending.length = 0;
    };
    s = new Fmp4Samples({
      sample: (x) => {
        pending.push(x);
        all.push(x);
        if (pending.filter((p) => p.track === 'video').length >= 10) flushFragment();
      },
      discontinuity: () => flushFragment(),
    });
    for (let p = 0; p < passes; p++) {
      if (p > 0) s.markDiscontinuity();
      for (const t of tags) s.push(t);
    }
    s.flush();
    flushFragment();
    return { file: Buffer.concat([writeInitSegment([s.video!, s.audio!]), ...chunks]), samples: all };
  }

  function decode(file: Buffer): {
    streams: { codec_name: string; width?: number; height?: number; sample_rate?: string }[];
  } {
    const path = join(dir, `out-${Math.random().toString(36).slice(2)}.mp4`);
    writeFileSync(path, file);
    const dec = spawnSync('ffmpeg', ['-v', 'error', '-i', path, '-f', 'null', '-'], { encoding: 'utf8' });
    assert.equal(dec.status, 0, dec.stderr);
    assert.equal(dec.stderr.trim(), '', 'ffmpeg reports no decoding errors');
    const probe = spawnSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', path], {
      encoding: 'utf8',
    });
    assert.equal(probe.status, 0, probe.stderr);
    return JSON.parse(probe.stdout);
  }

  it('init + fragments: h264 320x240 and aac 44100, decoded without errors', () => {
    const { file, samples } = mux(1);
    const info = decode(file);
    const v = info.streams.find((x) => x.codec_name === 'h264');
    const a = info.streams.find((x) => x.codec_name === 'aac');
    assert.ok(v && a, JSON.stringify(info));
    assert.equal(v.width, 320);
    assert.equal(v.height, 240);
    assert.equal(a.sample_rate, '44100');
    assert.ok(
      samples.some((x) => x.track === 'video' && x.compositionOffset > 0),
      'B-frames give composition offsets',
    );
  });

  it('a republish: baseMediaDecodeTime keeps rising and the whole file still decodes', () => {
    const { file, samples } = mux(2);
    decode(file);
    for (const track of ['video', 'audio'] as const) {
      const t = samples.filter((x) => x.track === track);
      for (let i = 1; i < t.length; i++)
        assert.ok(
          t[i]!.decodeTime >= t[i - 1]!.decodeTime + t[i - 1]!.duration - 1,
          `${track} sample ${i} decode time`,
        );
    }
  });
});
