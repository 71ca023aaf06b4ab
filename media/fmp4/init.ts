/**
 * CMAF / fragmented-MP4 initialization segment (ISO/IEC 23000-19 7.3.2.2 "CMAF header"): ftyp +
 * moov with one trak per track and an mvex that announces movie fragments. Sample tables are
 * empty: every sample lives in the fragments (media/fmp4/fragment.ts).
 *
 * Section numbers are ISO/IEC 14496-12:2015 unless marked -15 (NAL-structured video, 2017) or
 * -14 (MP4 file format) / -1 (systems descriptors).
 */
import { box, FieldWriter, fullBox, UNITY_MATRIX } from './boxes.ts';

export interface Fmp4VideoTrack {
  kind: 'video';
  trackId: number;
  codec: 'avc' | 'hevc';
  /** Media timescale (ticks per second); 90000 here. */
  timescale: number;
  width: number;
  height: number;
  /** AVCDecoderConfigurationRecord (-15 5.3.3.1) or HEVCDecoderConfigurationRecord (-15 8.3.3.1), verbatim. */
  record: Buffer;
}

export interface Fmp4AudioTrack {
  kind: 'audio';
  trackId: number;
  codec: 'aac' | 'mp3';
  /** Media timescale: the sample rate. */
  timescale: number;
  sampleRateHz: number;
  channels: number;
  /** AAC AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1), carried in esds. */
  asc?: Buffer;
}

export type Fmp4Track = Fmp4VideoTrack | Fmp4AudioTrack;

/** 4.3 FileTypeBox: major brand iso6 (tfdt/trun v1), compatible with CMAF (cmfc) and mp41. */
export function ftyp(): Buffer {
  const brands = ['iso6', 'cmfc', 'mp41'];
  const w = new FieldWriter(8 + 4 * brands.length).ascii('iso6').u32(0); // major_brand, minor_version
  for (const b of brands) w.ascii(b); // compatible_brands[]
  return box('ftyp', w.done());
}

/** 8.2.2 MovieHeaderBox, version 0: no duration (fragments carry the media). */
function mvhd(nextTrackId: number): Buffer {
  const w = new FieldWriter(96)
    .u32(0) // creation_time
    .u32(0) // modification_time
    .u32(1000) // timescale
    .u32(0) // duration: unknown (live)
    .u32(0x00010000) // rate 1.0 (16.16)
    .u16(0x0100) // volume 1.0 (8.8)
    .zeros(2 + 8) // reserved
    .bytes(UNITY_MATRIX)
    .zeros(24) // pre_defined
    .u32(nextTrackId); // next_track_ID
  return fullBox('mvhd', 0, 0, w.done());
}

/** 8.3.2 TrackHeaderBox, version 0; flags 3 = track_enabled | track_in_movie. */
function tkhd(t: Fmp4Track): Buffer {
  const video = t.kind === 'video';
  const w = new FieldWriter(80)
    .u32(0) // creation_time
    .u32(0) // modification_time
    .u32(t.trackId) // track_ID
    .zeros(4) // reserved
    .u32(0) // duration
    .zeros(8) // reserved
    .u16(0) // layer
    .u16(0) // alternate_group
    .u16(video ? 0 : 0x0100) // volume: 1.0 for audio
    .zeros(2) // reserved
    .bytes(UNITY_MATRIX)
    .u32(video ? t.width * 0x10000 : 0) // width (16.16)
    .u32(video ? t.height * 0x10000 : 0); // height (16.16)
  return fullBox('tkhd', 0, 3, w.done());
}

/** 8.4.2 MediaHeaderBox, version 0; language 'und' (ISO 639-2/T packed as 3 × 5 bits = 0x55C4). */
function mdhd(timescale: number): Buffer {
  const w = new FieldWriter(20)
    .u32(0) // creation_time
    .u32(0) // modification_time
    .u32(timescale)
    .u32(0) // duration
    .u16(0x55c4) // pad(1) + language
    .u16(0); // pre_defined
  return fullBox('mdhd', 0, 0, w.done());
}

/** 8.4.3 HandlerBox: 'vide' or 'soun', with a null-terminated name. */
function hdlr(handler: 'vide' | 'soun'): Buffer {
  const name = handler === 'vide' ? 'VideoHandler' : 'SoundHandler';
  const w = new FieldWriter(4 + 4 + 12 + name.length + 1)
    .u32(0) // pre_defined
    .ascii(handler) // handler_type
    .zeros(12) // reserved[3]
    .ascii(name)
    .u8(0);
  return fullBox('hdlr', 0, 0, w.done());
}

/** 8.7.1 DataInformationBox with 8.7.2 DataReferenceBox: one 'url ' entry, flags 1 = media in this file. */
function dinf(): Buffer {
  const entryCount = Buffer.from([0, 0, 0, 1]);
  return box('dinf', fullBox('dref', 0, 0, entryCount, fullBox('url ', 0, 1)));
}

/** 8.5.2.2 SampleEntry: reserved (6) + data_reference_index (2). */
function sampleEntryHead(w: FieldWriter): FieldWriter {
  return w.zeros(6).u16(1);
}

/** 12.1.3 VisualSampleEntry ('avc1' -15 5.4.2.1 / 'hvc1' -15 8.4.1.1) with its configuration box. */
function visualSampleEntry(t: Fmp4VideoTrack): Buffer {
  const w = sampleEntryHead(new FieldWriter(78))
    .u16(0) // pre_defined
    .zeros(2) // reserved
    .zeros(12) // pre_defined[3]
    .u16(t.width)
    .u16(t.height)
    .u32(0x00480000) // horizresolution 72 dpi
    .u32(0x00480000) // vertresolution 72 dpi
    .zeros(4) // reserved
    .u16(1) // frame_count
    .zeros(32) // compressorname (empty Pascal string)
    .u16(0x0018) // depth
    .u16(0xffff); // pre_defined = -1
  // -15 5.4.2.1 AVCConfigurationBox 'avcC' / 8.4.1.1 HEVCConfigurationBox 'hvcC': the record as is.
  const config = box(t.codec === 'avc' ? 'avcC' : 'hvcC', t.record);
  return box(t.codec === 'avc' ? 'avc1' : 'hvc1', w.done(), config);
}

/** -1 8.3.3: expandable descriptor length, always in the 4-byte form (what most muxers write). */
function descriptor(tag: number, ...payload: Buffer[]): Buffer {
  let len = 0;
  for (const p of payload) len += p.length;
  const head = Buffer.from([
    tag,
    0x80 | ((len >> 21) & 0x7f),
    0x80 | ((len >> 14) & 0x7f),
    0x80 | ((len >> 7) & 0x7f),
    len & 0x7f,
  ]);
  return Buffer.concat([head, ...payload]);
}

/**
 * -14 5.6 ESDBox: ES_Descriptor (-1 7.2.6.5) > DecoderConfigDescriptor (7.2.6.6) with
 * objectTypeIndication 0x40 (ISO/IEC 14496-3 audio) or 0x6B (MPEG-1 audio, MP3) >
 * DecoderSpecificInfo (the AudioSpecificConfig), and SLConfigDescriptor predefined = 2 (MP4).
 */
function esds(t: Fmp4AudioTrack): Buffer {
  const dsi = t.codec === 'aac' && t.asc ? [descriptor(0x05, t.asc)] : [];
  const decoderConfig = descriptor(
    0x04,
    new FieldWriter(13)
      .u8(t.codec === 'aac' ? 0x40 : 0x6b) // objectTypeIndication
      .u8((0x05 << 2) | 1) // streamType 5 (audio), upStream 0, reserved 1
      .u24(0) // bufferSizeDB
      .u32(0) // maxBitrate
      .u32(0) // avgBitrate
      .done(),
    ...dsi,
  );
  const es = descriptor(
    0x03,
    new FieldWriter(3).u16(t.trackId).u8(0).done(), // ES_ID, no dependency/URL/OCR flags, priority 0
    decoderConfig,
    descriptor(0x06, Buffer.from([0x02])),
  );
  return fullBox('esds', 0, 0, es);
}

/** 12.2.3 AudioSampleEntry (version 0) 'mp4a' (-14 5.6) with its esds. */
function audioSampleEntry(t: Fmp4AudioTrack): Buffer {
  const w = sampleEntryHead(new FieldWriter(28))
    .zeros(8) // reserved[2]
    .u16(t.channels) // channelcount
    .u16(16) // samplesize
    .u16(0) // pre_defined
    .zeros(2) // reserved
    .u32(Math.min(t.sampleRateHz, 0xffff) * 0x10000); // samplerate (16.16)
  return box('mp4a', w.done(), esds(t));
}

/** 8.5.1 SampleTableBox with an empty table (8.5.2 stsd holds the one sample entry). */
function stbl(t: Fmp4Track): Buffer {
  const entry = t.kind === 'video' ? visualSampleEntry(t) : audioSampleEntry(t);
  const zero = Buffer.alloc(4);
  return box(
    'stbl',
    fullBox('stsd', 0, 0, Buffer.from([0, 0, 0, 1]), entry), // 8.5.2 entry_count 1
    fullBox('stts', 0, 0, zero), // 8.6.1.2 entry_count 0
    fullBox('stsc', 0, 0, zero), // 8.7.4 entry_count 0
    fullBox('stsz', 0, 0, zero, zero), // 8.7.3.2 sample_size 0, sample_count 0
    fullBox('stco', 0, 0, zero), // 8.7.5 entry_count 0
  );
}

function trak(t: Fmp4Track): Buffer {
  // 12.1.2 VideoMediaHeaderBox (flags 1: graphicsmode, opcolor) / 12.2.2 SoundMediaHeaderBox (balance)
  const mediaHeader =
    t.kind === 'video' ? fullBox('vmhd', 0, 1, Buffer.alloc(8)) : fullBox('smhd', 0, 0, Buffer.alloc(4));
  return box(
    'trak',
    tkhd(t),
    box(
      'mdia',
      mdhd(t.timescale),
      hdlr(t.kind === 'video' ? 'vide' : 'soun'),
      box('minf', mediaHeader, dinf(), stbl(t)),
    ),
  );
}

/** 8.8.3 TrackExtendsBox: defaults all zero (every trun states duration, size and flags). */
function trex(trackId: number): Buffer {
  return fullBox('trex', 0, 0, new FieldWriter(20).u32(trackId).u32(1).u32(0).u32(0).u32(0).done());
}

/** ftyp + moov (8.2.1) for these tracks; mvex (8.8.1) marks the file as fragmented. */
export function writeInitSegment(tracks: readonly Fmp4Track[]): Buffer {
  const nextTrackId = Math.max(0, ...tracks.map((t) => t.trackId)) + 1;
  const moov = box(
    'moov',
    mvhd(nextTrackId),
    ...tracks.map(trak),
    box('mvex', ...tracks.map((t) => trex(t.trackId))),
  );
  return Buffer.concat([ftyp(), moov]);
}

/** RFC 6381 codecs parameter for a track (e.g. avc1.64001f, mp4a.40.2), for CODECS attributes. */
export function codecString(t: Fmp4Track): string {
  if (t.kind === 'audio') {
    if (t.codec === 'mp3') return 'mp4a.40.34';
    const aot = t.asc && t.asc.length > 0 ? t.asc[0]! >> 3 : 2;
    return `mp4a.40.${aot}`;
  }
  if (t.codec === 'avc') return `avc1.${t.record.subarray(1, 4).toString('hex')}`;
  // -15 E.3: hvc1.<space><profile>.<compatibility flags, bit-reversed hex>.<tier><level>[.<constraint bytes>]
  const r = t.record;
  const space = ['', 'A', 'B', 'C'][((r[1] ?? 0) >> 6) & 3]!;
  const profileIdc = (r[1] ?? 0) & 0x1f;
  const compat = r.length >= 6 ? r.readUInt32BE(2) : 0;
  let reversed = 0;
  for (let i = 0; i < 32; i++) if (compat & (1 << i)) reversed |= 1 << (31 - i);
  const tier = ((r[1] ?? 0) >> 5) & 1 ? 'H' : 'L';
  const constraints = [...r.subarray(6, 12)];
  while (constraints.length > 0 && constraints[constraints.length - 1] === 0) constraints.pop();
  const tail = constraints.map((b) => `.${b.toString(16).toUpperCase()}`).join('');
  return `hvc1.${space}${profileIdc}.${(reversed >>> 0).toString(16).toUpperCase()}.${tier}${r[12] ?? 0}${tail}`;
}
