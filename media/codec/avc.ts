/** H.264 / AVC: decoder configuration record (ISO/IEC 14496-15 5.2.4.1) and SPS (ITU-T H.264 7.3.2.1.1). */
import { MediaError } from '../errors.ts';
import { BitReader, unescapeRbsp } from './bits.ts';

export const NAL_IDR = 5;
export const NAL_SEI = 6;
export const NAL_SPS = 7;
export const NAL_PPS = 8;
export const NAL_AUD = 9;

export interface AvcDecoderConfig {
  profileIdc: number;
  profileCompatibility: number;
  levelIdc: number;
  nalLengthSize: 1 | 2 | 4;
  sps: Buffer[];
  pps: Buffer[];
}

export function parseAvcDecoderConfig(record: Buffer): AvcDecoderConfig {
  if (record.length < 7) throw new MediaError('RC_CODEC_TRUNCATED', 'AVC: configuration record too short');
  if (record[0] !== 1) throw new MediaError('RC_CODEC_INVALID', `AVC: configurationVersion ${record[0]}`);
  const nalLengthSize = ((record[4]! & 0x03) + 1) as 1 | 2 | 3 | 4;
  if (nalLengthSize === 3)
    throw new MediaError('RC_CODEC_INVALID', 'AVC: lengthSizeMinusOne 2 is not allowed');
  let pos = 6; // after numOfSequenceParameterSets
  const read = (count: number): Buffer[] => {
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      if (pos + 2 > record.length)
        throw new MediaError('RC_CODEC_TRUNCATED', 'AVC: parameter set length missing');
      const len = record.readUInt16BE(pos);
      pos += 2;
      if (pos + len > record.length)
        throw new MediaError('RC_CODEC_TRUNCATED', 'AVC: parameter set truncated');
      out.push(record.subarray(pos, pos + len));
      pos += len;
    }
    return out;
  };
  const sps = read(record[5]! & 0x1f);
  if (pos >= record.length)
    throw new MediaError('RC_CODEC_TRUNCATED', 'AVC: numOfPictureParameterSets missing');
  const numPps = record[pos++]!;
  const pps = read(numPps);
  return {
    profileIdc: record[1]!,
    profileCompatibility: record[2]!,
    levelIdc: record[3]!,
    nalLengthSize,
    sps,
    pps,
  };
}

export interface SpsInfo {
  profileIdc: number;
  levelIdc: number;
  width: number;
  height: number;
  chromaFormatIdc: number;
  frameRate?: number;
}

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

export function parseSps(nal: Buffer): SpsInfo {
  if (nal.length < 4) throw new MediaError('RC_CODEC_TRUNCATED', 'SPS too short');
  if ((nal[0]! & 0x1f) !== NAL_SPS) throw new MediaError('RC_CODEC_INVALID', 'not an SPS NAL unit');
  const r = new BitReader(unescapeRbsp(nal.subarray(1)));
  const profileIdc = r.u(8);
  r.skip(8); // constraint flags + reserved
  const levelIdc = r.u(8);
  r.ue(); // seq_parameter_set_id
  let chromaFormatIdc = 1;
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profileIdc)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc === 3) r.skip(1); // separate_colour_plane_flag
    r.ue(); // bit_depth_luma_minus8
    r.ue(); // bit_depth_chroma_minus8
    r.skip(1); // qpprime_y_zero_transform_bypass_flag
    if (r.flag()) {
      // seq_scaling_matrix_present_flag
      const lists = chromaFormatIdc !== 3 ? 8 : 12;
      for (let i = 0; i < lists; i++) if (r.flag()) skipScalingList(r, i < 6 ? 16 : 64);
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.skip(1);
    r.se();
    r.se();
    const n = r.ue();
    if (n > 255) throw new MediaError('RC_CODEC_INVALID', 'SPS: too many ref frames in POC cycle');
    for (let i = 0; i < n; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.skip(1); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.flag();
  if (!frameMbsOnly) r.skip(1); // mb_adaptive_frame_field_flag
  r.skip(1); // direct_8x8_inference_flag
  let cropLeft = 0;
  let cropRight = 0;
  let cropTop = 0;
  let cropBottom = 0;
  if (r.flag()) {
    cropLeft = r.ue();
    cropRight = r.ue();
    cropTop = r.ue();
    cropBottom = r.ue();
  }
  // 7.4.2.1.1: crop units depend on chroma subsampling and field coding
  const subW = chromaFormatIdc === 1 || chromaFormatIdc === 2 ? 2 : 1;
  const subH = chromaFormatIdc === 1 ? 2 : 1;
  const cropUnitX = chromaFormatIdc === 0 ? 1 : subW;
  const cropUnitY = (chromaFormatIdc === 0 ? 1 : subH) * (frameMbsOnly ? 1 : 2);
  const width = widthMbs * 16 - cropUnitX * (cropLeft + cropRight);
  const height = (frameMbsOnly ? 1 : 2) * heightMapUnits * 16 - cropUnitY * (cropTop + cropBottom);
  const info: SpsInfo = { profileIdc, levelIdc, width, height, chromaFormatIdc };
  try {
    if (r.flag()) {
      // vui_parameters_present_flag (E.1.1)
      if (r.flag()) {
        const idc = r.u(8);
        if (idc === 255) r.skip(32);
      }
      if (r.flag()) r.skip(1); // overscan
      if (r.flag()) {
        r.skip(4);
        if (r.flag()) r.skip(24);
      }
      if (r.flag()) {
        r.ue();
        r.ue();
      }
      if (r.flag()) {
        const units = r.u(32);
        const scale = r.u(32);
        if (units > 0) info.frameRate = Math.round((scale / (2 * units)) * 1000) / 1000;
      }
    }
  } catch {
    // VUI is optional detail; the resolution above is already known.
  }
  return info;
}

/** Splits length-prefixed NAL units (AVCC/HVCC) starting at offset. */
export function avccToAnnexB(data: Buffer, offset: number, nalLengthSize: number): Buffer[] {
  const out: Buffer[] = [];
  let pos = offset;
  while (pos < data.length) {
    if (pos + nalLengthSize > data.length)
      throw new MediaError('RC_CODEC_TRUNCATED', 'NAL length prefix truncated');
    const len = data.readUIntBE(pos, nalLengthSize);
    pos += nalLengthSize;
    if (pos + len > data.length)
      throw new MediaError('RC_CODEC_TRUNCATED', `NAL unit of ${len} bytes overruns the frame`);
    if (len > 0) out.push(data.subarray(pos, pos + len));
    pos += len;
  }
  return out;
}

export function nalType(nal: Buffer): number {
  return nal.length ? nal[0]! & 0x1f : -1;
}

export const AVC_PROFILE_NAMES: Record<number, string> = {
  66: 'Baseline',
  77: 'Main',
  88: 'Extended',
  100: 'High',
  110: 'High 10',
  122: 'High 4:2:2',
  244: 'High 4:4:4',
};
