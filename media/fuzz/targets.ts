/**
 * Fuzz targets: every parser fed random bytes and mutations of valid input, in random splits.
 * The property: a parser returns a value or throws MediaError — never another exception, never
 * a hang (each input is small and every parser is linear in it).
 */
import fc from 'fast-check';
import { AmfEcmaArray, decodeAmf0, encodeAmf0 } from '../amf/amf0.ts';
import { parseAudioSpecificConfig } from '../codec/aac.ts';
import { parseAvcDecoderConfig, parseSps } from '../codec/avc.ts';
import { describeAudioTag, describeVideoSequenceHeader } from '../codec/describe.ts';
import { parseHevcDecoderConfig } from '../codec/hevc.ts';
import { parseMp3FrameHeader } from '../codec/mp3.ts';
import { MediaError } from '../errors.ts';
import { parseAudioTag } from '../flv/audio.ts';
import { FlvDemuxer } from '../flv/demuxer.ts';
import { encodeFlvTag, flvFileHeader } from '../flv/tag.ts';
import { parseVideoTag } from '../flv/video.ts';
import { HlsSegmenter } from '../hls/segmenter.ts';
import { TsDemuxer } from '../mpegts/demuxer.ts';
import { TsMuxer } from '../mpegts/muxer.ts';
import { ChunkReader, ChunkWriter } from '../rtmp/chunk.ts';
import { decodeCommand } from '../rtmp/command.ts';
import { ServerHandshake } from '../rtmp/handshake.ts';
import { TAG_AUDIO, TAG_VIDEO } from '../tag.ts';

/** Runs fn; MediaError is an acceptable outcome, anything else is a finding. */
export function tolerate(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof MediaError)) throw err;
  }
}

/** Valid samples to mutate. */
const AVC_SEQ = Buffer.from(
  '0164001fffe100196764001facd9405005bb011000000300100000030300f1831960' + '01000568ebecb22c',
  'hex',
);
const SPS = Buffer.from('6764001facd9405005bb011000000300100000030300f18319600', 'hex');
const samples = {
  amf: encodeAmf0([
    'connect',
    1,
    { app: 'live', tcUrl: 'rtmp://h/live', n: 1.5, ok: true, list: [1, 'a', null] },
    new AmfEcmaArray({ w: 640 }),
  ]),
  chunk: (() => {
    const w = new ChunkWriter();
    w.chunkSize = 64;
    return Buffer.concat([
      w.encode({
        csid: 3,
        typeId: 20,
        streamId: 0,
        timestamp: 0,
        payload: encodeAmf0(['connect', 1, { app: 'live' }]),
      }),
      w.encode({ csid: 6, typeId: 9, streamId: 1, timestamp: 0x1000000, payload: Buffer.alloc(200, 7) }),
      w.encode({ csid: 4, typeId: 8, streamId: 1, timestamp: 40, payload: Buffer.alloc(30, 3) }),
    ]);
  })(),
  flv: Buffer.concat([
    flvFileHeader(true, true),
    encodeFlvTag(9, 0, Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0]), AVC_SEQ])),
    encodeFlvTag(8, 0, Buffer.from([0xaf, 0, 0x12, 0x10])),
    encodeFlvTag(9, 40, Buffer.from([0x17, 1, 0, 0, 0, 0, 0, 0, 4, 0x65, 0x88, 0x84, 0x00])),
    encodeFlvTag(8, 23, Buffer.from([0xaf, 1, 0x21, 0x10, 0x05])),
  ]),
  videoTag: Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0]), AVC_SEQ]),
  audioTag: Buffer.from([0xaf, 0, 0x12, 0x10]),
  avc: AVC_SEQ,
  sps: SPS,
  asc: Buffer.from([0x12, 0x10]),
  mp3: Buffer.from('fffb9064', 'hex'),
  hevc: Buffer.concat([
    Buffer.from('01016000000090000000000078f000fcfdf8f800000f03', 'hex'),
    Buffer.from('a00001001840010c01ffff016000000300900000030000030078959809', 'hex'),
  ]),
};

/** A short H.264 + AAC transport stream from our muxer (PAT, PMT, PES with PCR, ADTS). */
const TS_SAMPLE = (() => {
  const m = new TsMuxer({ audioPesMaxMs: 0 });
  m.setTracks({ video: 'h264', audio: 'aac' });
  m.writeTables();
  const sps = Buffer.from('6764001facd9405005bb0110', 'hex');
  for (let i = 0; i < 3; i++) {
    const nal = Buffer.alloc(120 + i * 150, i + 1);
    nal[0] = i === 0 ? 0x65 : 0x41;
    m.writeVideo(
      Buffer.concat([
        Buffer.from('00000001', 'hex'),
        sps,
        Buffer.from('0000000168ebe3cb22c000000001', 'hex'),
        nal,
      ]),
      40 * i + 80,
      40 * i,
      i === 0,
    );
    m.writeAudio(Buffer.concat([Buffer.from('fff14c80047ffc', 'hex'), Buffer.alloc(29, i)]), 23 * i);
  }
  return m.flush();
})();

/** Arbitrary: packets with sync bytes and the sample's PIDs but random contents (random bytes rarely sync). */
const tsPackets = fc
  .array(
    fc.tuple(
      fc.constantFrom(0, 0x1000, 0x100, 0x101, 0x1fff, 0x42),
      fc.uint8Array({ minLength: 185, maxLength: 185 }),
    ),
    { maxLength: 20 },
  )
  .map((packets) =>
    Buffer.concat(
      packets.map(([pid, rest]) => {
        const p = Buffer.concat([Buffer.from([0x47]), Buffer.from(rest)]);
        p[1] = (p[1]! & 0xe0) | (pid >> 8);
        p[2] = pid & 0xff;
        return p.subarray(0, 188);
      }),
    ),
  );

/** Arbitrary: random bytes, or a valid sample with bit flips, truncation and insertions. */
export function bytesLike(sample: Buffer, maxLength = 4096): fc.Arbitrary<Buffer> {
  const random = fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
  const mutated = fc
    .record({
      flips: fc.array(fc.record({ at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }), { maxLength: 8 }),
      cut: fc.nat(),
      insertAt: fc.nat(),
      insert: fc.uint8Array({ maxLength: 16 }),
    })
    .map(({ flips, cut, insertAt, insert }) => {
      const b = Buffer.from(sample);
      for (const f of flips) b[f.at % b.length]! ^= 1 << f.bit;
      const at = insertAt % (b.length + 1);
      const withInsert = Buffer.concat([b.subarray(0, at), Buffer.from(insert), b.subarray(at)]);
      return withInsert.subarray(
        0,
        withInsert.length - (cut % Math.max(1, withInsert.length)) * (cut % 3 === 0 ? 1 : 0),
      );
    });
  return fc.oneof(random, mutated);
}

/** Splits a buffer at random points. */
function splits(b: Buffer, points: number[]): Buffer[] {
  const cuts = [...new Set(points.map((p) => p % (b.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    out.push(b.subarray(prev, c));
    prev = c;
  }
  out.push(b.subarray(prev));
  return out;
}

const streamed = (sample: Buffer) => fc.tuple(bytesLike(sample), fc.array(fc.nat(), { maxLength: 6 }));

export interface FuzzTarget {
  name: string;
  property: fc.IPropertyWithHooks<unknown> | fc.IProperty<unknown>;
}

export const TARGETS: FuzzTarget[] = [
  { name: 'amf0', property: fc.property(bytesLike(samples.amf), (b) => tolerate(() => decodeAmf0(b))) },
  {
    name: 'amf3',
    property: fc.property(bytesLike(Buffer.from('0a0b010361060378', 'hex')), (b) =>
      tolerate(() => decodeAmf0(Buffer.concat([Buffer.from([0x11]), b]))),
    ),
  },
  {
    name: 'rtmp-handshake',
    property: fc.property(streamed(Buffer.concat([Buffer.from([3]), Buffer.alloc(3072, 1)])), ([b, p]) =>
      tolerate(() => {
        const hs = new ServerHandshake();
        for (const part of splits(b, p)) hs.push(part);
      }),
    ),
  },
  {
    name: 'rtmp-chunk',
    property: fc.property(streamed(samples.chunk), ([b, p]) =>
      tolerate(() => {
        const r = new ChunkReader({ maxMessageBytes: 1 << 20 });
        for (const part of splits(b, p)) r.push(part);
      }),
    ),
  },
  {
    name: 'rtmp-command',
    property: fc.property(bytesLike(samples.amf), fc.constantFrom(17, 20), (b, typeId) =>
      tolerate(() => decodeCommand({ csid: 3, typeId, streamId: 0, timestamp: 0, payload: b })),
    ),
  },
  {
    name: 'flv-demuxer',
    property: fc.property(streamed(samples.flv), ([b, p]) =>
      tolerate(() => {
        const d = new FlvDemuxer({ maxTagBytes: 1 << 20 });
        for (const part of splits(b, p)) d.push(part);
      }),
    ),
  },
  {
    name: 'flv-video-tag',
    property: fc.property(bytesLike(samples.videoTag, 256), (b) => tolerate(() => parseVideoTag(b))),
  },
  {
    name: 'flv-audio-tag',
    property: fc.property(bytesLike(samples.audioTag, 64), (b) => tolerate(() => parseAudioTag(b))),
  },
  {
    name: 'avc-config',
    property: fc.property(bytesLike(samples.avc, 512), (b) => tolerate(() => parseAvcDecoderConfig(b))),
  },
  {
    name: 'h264-sps',
    property: fc.property(bytesLike(samples.sps, 256), (b) => tolerate(() => parseSps(b))),
  },
  {
    name: 'hevc-config',
    property: fc.property(bytesLike(samples.hevc, 512), (b) => tolerate(() => parseHevcDecoderConfig(b))),
  },
  {
    name: 'aac-asc',
    property: fc.property(bytesLike(samples.asc, 16), (b) => tolerate(() => parseAudioSpecificConfig(b))),
  },
  {
    name: 'mp3-header',
    property: fc.property(bytesLike(samples.mp3, 16), (b) => tolerate(() => parseMp3FrameHeader(b))),
  },
  {
    name: 'codec-describe',
    property: fc.property(bytesLike(samples.videoTag, 256), bytesLike(samples.audioTag, 64), (v, a) => {
      tolerate(() => describeVideoSequenceHeader(v));
      tolerate(() => describeAudioTag(a));
    }),
  },
  {
    // MPEG-TS ingest: never throws at all (damage is counted), in any split, and ends its work
    name: 'mpegts-demuxer',
    property: fc.property(
      fc.tuple(fc.oneof(bytesLike(TS_SAMPLE, 8192), tsPackets), fc.array(fc.nat(), { maxLength: 6 })),
      fc.constantFrom(undefined, 1, 2),
      ([b, p], programNumber) => {
        const d = new TsDemuxer({ programNumber, maxPesBytes: 4096 });
        for (const part of splits(b, p)) d.push(part);
        d.end();
        d.takeProblems();
      },
    ),
  },
  {
    // the MPEG-TS muxer's input: any sequence of (possibly damaged) tags must never throw at all
    name: 'hls-segmenter',
    property: fc.property(
      fc.array(
        fc.tuple(fc.constantFrom(TAG_AUDIO, TAG_VIDEO), bytesLike(samples.videoTag, 256), fc.nat(100)),
        { maxLength: 40 },
      ),
      (tags) => {
        const seg = new HlsSegmenter({ targetDurationMs: 100 });
        let ts = 0;
        for (const [type, data, dt] of tags) {
          ts += dt;
          seg.push(
            {
              type,
              timestamp: ts,
              data: type === TAG_AUDIO ? Buffer.concat([Buffer.from([0xaf]), data]) : data,
            },
            ts,
          );
        }
        seg.end(ts);
      },
    ),
  },
];
