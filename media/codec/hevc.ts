/** HEVC decoder configuration record (ISO/IEC 14496-15 8.3.3.1): parameter sets for passthrough and HLS. */
import { MediaError } from '../errors.ts';
import { BitReader, unescapeRbsp } from './bits.ts';

export interface HevcDecoderConfig {
  generalProfileIdc: number;
  generalLevelIdc: number;
  nalLengthSize: 1 | 2 | 4;
  vps: Buffer[];
  sps: Buffer[];
  pps: Buffer[];
}

export function parseHevcDecoderConfig(record: Buffer): HevcDecoderConfig {
  if (record.length < 23) throw new MediaError('RC_CODEC_TRUNCATED', 'HEVC: configuration record too short');
  const nalLengthSize = ((record[21]! & 3) + 1) as 1 | 2 | 3 | 4;
  if (nalLengthSize === 3)
    throw new MediaError('RC_CODEC_INVALID', 'HEVC: lengthSizeMinusOne 2 is not allowed');
  const out: HevcDecoderConfig = {
    generalProfileIdc: record[1]! & 0x1f,
    generalLevelIdc: record[12]!,
    nalLengthSize,
    vps: [],
    sps: [],
    pps: [],
  };
  let pos = 23;
  const arrays = record[22]!;
  for (let i = 0; i < arrays; i++) {
    if (pos + 3 > record.length)
      throw new MediaError('RC_CODEC_TRUNCATED', 'HEVC: NAL array header truncated');
    const type = record[pos]! & 0x3f;
    const count = record.readUInt16BE(pos + 1);
    pos += 3;
    for (let j = 0; j < count; j++) {
      if (pos + 2 > record.length) throw new MediaError('RC_CODEC_TRUNCATED', 'HEVC: NAL length truncated');
      const len = record.readUInt16BE(pos);
      pos += 2;
      if (pos + len > record.length) throw new MediaError('RC_CODEC_TRUNCATED', 'HEVC: NAL unit truncated');
      const nal = record.subarray(pos, pos + len);
      pos += len;
      if (type === 32) out.vps.push(nal);
      else if (type === 33) out.sps.push(nal);
      else if (type === 34) out.pps.push(nal);
    }
  }
  return out;
}

/**
 * Picture size from an HEVC SPS NAL unit (ITU-T H.265 7.3.2.2.1, with 7.3.3 profile_tier_level
 * skipped), cropped by the conformance window (7.4.3.2.1). Throws MediaError on a truncated SPS.
 */
export function parseHevcSpsSize(nal: Buffer): { width: number; height: number } {
  if (nal.length < 4) throw new MediaError('RC_CODEC_TRUNCATED', 'HEVC: SPS too short');
  const r = new BitReader(unescapeRbsp(nal.subarray(2))); // after the 2-byte NAL unit header
  r.skip(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.u(3);
  r.skip(1); // sps_temporal_id_nesting_flag
  // profile_tier_level(1, maxSubLayersMinus1): general part is 88 + 8 (level) bits
  r.skip(96);
  const subProfile: boolean[] = [];
  const subLevel: boolean[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    subProfile.push(r.flag());
    subLevel.push(r.flag());
  }
  if (maxSubLayersMinus1 > 0) r.skip(2 * (8 - maxSubLayersMinus1)); // reserved_zero_2bits
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (subProfile[i]) r.skip(88);
    if (subLevel[i]) r.skip(8);
  }
  r.ue(); // sps_seq_parameter_set_id
  const chromaFormatIdc = r.ue();
  if (chromaFormatIdc === 3) r.skip(1); // separate_colour_plane_flag
  let width = r.ue(); // pic_width_in_luma_samples
  let height = r.ue(); // pic_height_in_luma_samples
  if (r.flag()) {
    // conformance_window_flag: offsets in chroma units (Table 6-1)
    const subW = chromaFormatIdc === 1 || chromaFormatIdc === 2 ? 2 : 1;
    const subH = chromaFormatIdc === 1 ? 2 : 1;
    const left = r.ue();
    const right = r.ue();
    const top = r.ue();
    const bottom = r.ue();
    width -= subW * (left + right);
    height -= subH * (top + bottom);
  }
  return { width, height };
}
