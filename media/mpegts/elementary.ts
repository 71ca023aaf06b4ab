/**
 * Elementary streams out of MPEG-TS PES payloads, into FLV-equivalent tags (media/tag.ts):
 * - H.264 Annex B (ITU-T H.264 B.1) → AVCC frames + AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.2.4.1)
 * - H.265 Annex B → Enhanced RTMP 'hvc1' frames + HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1)
 * - AAC in ADTS (ISO/IEC 13818-7 6.2) → raw AAC frames + AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1)
 * - MPEG-1/2 audio layers I–III (ISO/IEC 11172-3, 13818-3) → FLV SoundFormat 2, one frame per tag.
 *   FLV has no MP2 id. ffmpeg's FLV muxer refuses MP2 outright; its FLV demuxer, given SoundFormat 2
 *   frames of layer II, detects mp2 but then opens a new audio stream for every tag (its codec check
 *   expects mp3), so ffmpeg-based FLV players mishandle it. We still carry MP2 unchanged as SoundFormat
 *   2 (no transcoding, ever): it is how the hub holds MPEG audio, and the HLS packager writes it back
 *   as MPEG-TS stream_type 0x03/0x04, which every player reads. For MP2 channels, HLS is the output
 *   to give viewers; HTTP-FLV/RTMP carry it for players that look at the frame headers.
 * Each converter throws MediaError on a payload it cannot use; the demuxer counts it and goes on.
 */
import { BitReader, unescapeRbsp } from '../codec/bits.ts';
import { parseMp3FrameHeader } from '../codec/mp3.ts';
import { MediaError } from '../errors.ts';
import { type MediaTag, TAG_AUDIO, TAG_VIDEO } from '../tag.ts';

/** NAL units of an Annex B byte stream, without start codes or trailing_zero_8bits. */
export function splitAnnexB(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const n = buf.length;
  let start = -1;
  let i = 0;
  const close = (end: number) => {
    while (end > start && buf[end - 1] === 0) end--;
    if (end > start) out.push(buf.subarray(start, end));
  };
  while (i + 2 < n) {
    const b2 = buf[i + 2]!;
    if (b2 > 1) {
      i += 3; // no start code can begin at i, i+1 or i+2
      continue;
    }
    if (b2 === 1 && buf[i] === 0 && buf[i + 1] === 0) {
      if (start >= 0) close(i);
      start = i + 3;
      i += 3;
      continue;
    }
    i++;
  }
  if (start >= 0 && start < n) close(n);
  return out;
}

function videoTagHeader(bytes: number[], nals: readonly Buffer[]): Buffer {
  let size = bytes.length;
  for (const nal of nals) size += 4 + nal.length;
  const out = Buffer.allocUnsafe(size);
  out.set(bytes, 0);
  let pos = bytes.length;
  for (const nal of nals) {
    out.writeUInt32BE(nal.length, pos); // NALUnitLength, 4 bytes (lengthSizeMinusOne = 3)
    nal.copy(out, pos + 4);
    pos += 4 + nal.length;
  }
  return out;
}

function si24(v: number): [number, number, number] {
  const u = v < 0 ? v + 0x1000000 : v;
  return [(u >> 16) & 0xff, (u >> 8) & 0xff, u & 0xff];
}

function paramKey(sets: readonly Buffer[][]): string {
  return sets.map((s) => s.map((b) => b.toString('base64')).join(',')).join('|');
}

export interface VideoConverter {
  readonly codec: 'h264' | 'hevc';
  /** One access unit (one PES payload) → zero, one or two tags (sequence header first). */
  convert(annexB: Buffer, dtsMs: number, ctsMs: number): MediaTag[];
}

/** H.264: SPS/PPS go into the sequence header, AUDs are dropped, frames wait for the first keyframe. */
export class AvcConverter implements VideoConverter {
  readonly codec = 'h264';
  private key = '';
  private started = false;

  convert(annexB: Buffer, dtsMs: number, ctsMs: number): MediaTag[] {
    const nals = splitAnnexB(annexB);
    if (nals.length === 0) throw new MediaError('RC_TS_PES_INVALID', 'H.264: PES without a start code');
    const sps: Buffer[] = [];
    const pps: Buffer[] = [];
    const frame: Buffer[] = [];
    let isKey = false;
    for (const nal of nals) {
      const type = nal[0]! & 0x1f;
      if (type === 7) sps.push(nal);
      else if (type === 8) pps.push(nal);
      else if (type === 9)
        continue; // access unit delimiter: FLV frames carry none
      else {
        // IDR, or an SEI whose first message is a recovery point (open-GOP broadcast encoders)
        if (type === 5 || (type === 6 && nal[1] === 6)) isKey = true;
        frame.push(nal);
      }
    }
    const tags: MediaTag[] = [];
    if (sps.length > 0 && pps.length > 0) {
      const key = paramKey([sps, pps]);
      if (key !== this.key) {
        this.key = key;
        tags.push({ type: TAG_VIDEO, timestamp: dtsMs, data: avcSequenceHeader(sps, pps) });
      }
    }
    if (this.key === '' || frame.length === 0) return tags;
    if (!this.started && !isKey) return tags;
    this.started = true;
    tags.push({
      type: TAG_VIDEO,
      timestamp: dtsMs,
      data: videoTagHeader([(isKey ? 0x10 : 0x20) | 7, 1, ...si24(ctsMs)], frame),
    });
    return tags;
  }
}

/** FLV VIDEODATA AVC sequence header: 0x17 00 000000 + AVCDecoderConfigurationRecord. */
export function avcSequenceHeader(sps: readonly Buffer[], pps: readonly Buffer[]): Buffer {
  const first = sps[0]!;
  if (first.length < 4) throw new MediaError('RC_CODEC_TRUNCATED', 'H.264: SPS shorter than 4 bytes');
  const parts: Buffer[] = [
    Buffer.from([0x17, 0, 0, 0, 0, 1, first[1]!, first[2]!, first[3]!, 0xff, 0xe0 | sps.length]),
  ];
  for (const s of sps) parts.push(Buffer.from([s.length >> 8, s.length & 0xff]), s);
  parts.push(Buffer.from([pps.length]));
  for (const p of pps) parts.push(Buffer.from([p.length >> 8, p.length & 0xff]), p);
  return Buffer.concat(parts);
}

const HVC1 = [0x68, 0x76, 0x63, 0x31]; // 'hvc1'

/** H.265: VPS/SPS/PPS go into an Enhanced RTMP SequenceStart; IRAP pictures (types 16–23) are keyframes. */
export class HevcConverter implements VideoConverter {
  readonly codec = 'hevc';
  private key = '';
  private started = false;

  convert(annexB: Buffer, dtsMs: number, ctsMs: number): MediaTag[] {
    const nals = splitAnnexB(annexB);
    if (nals.length === 0) throw new MediaError('RC_TS_PES_INVALID', 'H.265: PES without a start code');
    const vps: Buffer[] = [];
    const sps: Buffer[] = [];
    const pps: Buffer[] = [];
    const frame: Buffer[] = [];
    let isKey = false;
    for (const nal of nals) {
      const type = (nal[0]! >> 1) & 0x3f;
      if (type === 32) vps.push(nal);
      else if (type === 33) sps.push(nal);
      else if (type === 34) pps.push(nal);
      else if (type === 35)
        continue; // access unit delimiter
      else {
        if (type >= 16 && type <= 23) isKey = true;
        frame.push(nal);
      }
    }
    const tags: MediaTag[] = [];
    if (vps.length > 0 && sps.length > 0 && pps.length > 0) {
      const key = paramKey([vps, sps, pps]);
      if (key !== this.key) {
        const record = hevcDecoderConfigurationRecord(vps, sps, pps);
        this.key = key;
        tags.push({
          type: TAG_VIDEO,
          timestamp: dtsMs,
          data: Buffer.concat([Buffer.from([0x80 | 0x10 | 0, ...HVC1]), record]), // PacketType 0 SequenceStart
        });
      }
    }
    if (this.key === '' || frame.length === 0) return tags;
    if (!this.started && !isKey) return tags;
    this.started = true;
    // Enhanced RTMP: IsExHeader | FrameType | PacketType 1 (CodedFrames), FourCC, SI24 CompositionTime
    const b0 = 0x80 | (isKey ? 0x10 : 0x20) | 1;
    tags.push({
      type: TAG_VIDEO,
      timestamp: dtsMs,
      data: videoTagHeader([b0, ...HVC1, ...si24(ctsMs)], frame),
    });
    return tags;
  }
}

/** HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1.2) from the first SPS's fields. */
export function hevcDecoderConfigurationRecord(
  vps: readonly Buffer[],
  sps: readonly Buffer[],
  pps: readonly Buffer[],
): Buffer {
  const rbsp = unescapeRbsp(sps[0]!.subarray(2)); // after the 2-byte NAL unit header
  if (rbsp.length < 13) throw new MediaError('RC_CODEC_TRUNCATED', 'H.265: SPS too short');
  // H.265 7.3.2.2.1: sps_video_parameter_set_id u(4), sps_max_sub_layers_minus1 u(3), nesting u(1),
  // then profile_tier_level (7.3.3): 12 bytes of general_* fields
  const maxSubLayersMinus1 = (rbsp[0]! >> 1) & 7;
  const temporalIdNested = rbsp[0]! & 1;
  const r = new BitReader(rbsp);
  r.skip(8 + 96);
  const subProfile: boolean[] = [];
  const subLevel: boolean[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    subProfile.push(r.flag());
    subLevel.push(r.flag());
  }
  if (maxSubLayersMinus1 > 0) r.skip(2 * (8 - maxSubLayersMinus1));
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (subProfile[i]) r.skip(88);
    if (subLevel[i]) r.skip(8);
  }
  r.ue(); // sps_seq_parameter_set_id
  const chromaFormatIdc = r.ue();
  if (chromaFormatIdc > 3)
    throw new MediaError('RC_CODEC_INVALID', `H.265: chroma_format_idc ${chromaFormatIdc}`);
  if (chromaFormatIdc === 3) r.skip(1); // separate_colour_plane_flag
  r.ue(); // pic_width_in_luma_samples
  r.ue(); // pic_height_in_luma_samples
  if (r.flag()) for (let i = 0; i < 4; i++) r.ue(); // conformance window offsets
  const bitDepthLuma = Math.min(r.ue(), 7);
  const bitDepthChroma = Math.min(r.ue(), 7);

  const head = Buffer.alloc(23);
  head[0] = 1; // configurationVersion
  rbsp.copy(head, 1, 1, 13); // general_profile_space … general_level_idc, as in the SPS
  head[13] = 0xf0; // reserved 1111 + min_spatial_segmentation_idc 0
  head[14] = 0x00;
  head[15] = 0xfc; // reserved 111111 + parallelismType 0 (unknown)
  head[16] = 0xfc | chromaFormatIdc;
  head[17] = 0xf8 | bitDepthLuma;
  head[18] = 0xf8 | bitDepthChroma;
  // avgFrameRate (16) = 0; constantFrameRate 0 | numTemporalLayers | temporalIdNested | lengthSizeMinusOne 3
  head[21] = (((maxSubLayersMinus1 + 1) & 7) << 3) | (temporalIdNested << 2) | 3;
  head[22] = 3; // numOfArrays
  const parts: Buffer[] = [head];
  for (const [type, list] of [
    [32, vps],
    [33, sps],
    [34, pps],
  ] as const) {
    parts.push(Buffer.from([0x80 | type, list.length >> 8, list.length & 0xff])); // array_completeness 1
    for (const nal of list) parts.push(Buffer.from([nal.length >> 8, nal.length & 0xff]), nal);
  }
  return Buffer.concat(parts);
}

export interface AudioConverter {
  readonly codec: 'aac' | 'mpeg-audio';
  convert(payload: Buffer, ptsMs: number): MediaTag[];
}

/** AAC in ADTS: one tag per raw_data_block, an AudioSpecificConfig tag whenever the format changes. */
export class AdtsConverter implements AudioConverter {
  readonly codec = 'aac';
  private asc: Buffer | undefined;

  convert(payload: Buffer, ptsMs: number): MediaTag[] {
    const tags: MediaTag[] = [];
    let pos = 0;
    let frameIndex = 0;
    while (pos < payload.length) {
      if (payload.length - pos < 7) throw new MediaError('RC_TS_PES_INVALID', 'ADTS: truncated header');
      if (payload[pos] !== 0xff || (payload[pos + 1]! & 0xf6) !== 0xf0)
        throw new MediaError('RC_TS_PES_INVALID', 'ADTS: no syncword');
      const b1 = payload[pos + 1]!;
      const b2 = payload[pos + 2]!;
      const b3 = payload[pos + 3]!;
      const protectionAbsent = b1 & 1;
      const profile = b2 >> 6; // audio object type − 1
      const sfi = (b2 >> 2) & 0x0f;
      const channels = ((b2 & 1) << 2) | (b3 >> 6);
      const frameLength = ((b3 & 3) << 11) | (payload[pos + 4]! << 3) | (payload[pos + 5]! >> 5);
      const rawBlocks = (payload[pos + 6]! & 3) + 1;
      const headerLength = protectionAbsent ? 7 : 9;
      if (sfi > 12) throw new MediaError('RC_TS_PES_INVALID', `ADTS: sampling_frequency_index ${sfi}`);
      if (frameLength <= headerLength || pos + frameLength > payload.length)
        throw new MediaError('RC_TS_PES_INVALID', `ADTS: frame_length ${frameLength} does not fit the PES`);
      if (rawBlocks !== 1)
        throw new MediaError('RC_CODEC_UNSUPPORTED', 'ADTS: several raw_data_blocks in one frame');
      const sampleRate = [
        96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
      ][sfi]!;
      const asc = Buffer.from([((profile + 1) << 3) | (sfi >> 1), ((sfi & 1) << 7) | (channels << 3)]);
      if (!this.asc?.equals(asc)) {
        this.asc = asc;
        tags.push({
          type: TAG_AUDIO,
          timestamp: Math.round(ptsMs),
          data: Buffer.from([0xaf, 0, asc[0]!, asc[1]!]),
        });
      }
      const raw = payload.subarray(pos + headerLength, pos + frameLength);
      const data = Buffer.allocUnsafe(2 + raw.length);
      data[0] = 0xaf; // SoundFormat 10 (AAC), 44 kHz, 16-bit, stereo: fixed for AAC (FLV spec E.4.2.1)
      data[1] = 1; // AACPacketType 1: raw
      raw.copy(data, 2);
      tags.push({
        type: TAG_AUDIO,
        timestamp: Math.round(ptsMs + (frameIndex * 1024 * 1000) / sampleRate),
        data,
      });
      frameIndex++;
      pos += frameLength;
    }
    return tags;
  }
}

/** MPEG-1/2 audio (MP1/MP2/MP3): one frame per FLV tag, SoundFormat 2. */
export class MpegAudioConverter implements AudioConverter {
  readonly codec = 'mpeg-audio';

  convert(payload: Buffer, ptsMs: number): MediaTag[] {
    const tags: MediaTag[] = [];
    let pos = 0;
    let elapsedSamples = 0;
    while (pos < payload.length) {
      const h = parseMp3FrameHeader(payload, pos);
      if (h.frameBytes < 4 || pos + h.frameBytes > payload.length)
        throw new MediaError(
          'RC_TS_PES_INVALID',
          `MPEG audio: frame of ${h.frameBytes} bytes does not fit the PES`,
        );
      // SoundRate: 3 = 44 kHz class, 2 = 22 kHz class, 1 = 11 kHz class; the frame header is authoritative
      const rate = h.sampleRateHz >= 32000 ? 3 : h.sampleRateHz >= 16000 ? 2 : 1;
      const data = Buffer.allocUnsafe(1 + h.frameBytes);
      data[0] = (2 << 4) | (rate << 2) | 2 | (h.channels === 2 ? 1 : 0);
      payload.copy(data, 1, pos, pos + h.frameBytes);
      tags.push({
        type: TAG_AUDIO,
        timestamp: Math.round(ptsMs + (elapsedSamples * 1000) / h.sampleRateHz),
        data,
      });
      elapsedSamples += h.samplesPerFrame;
      pos += h.frameBytes;
    }
    return tags;
  }
}
