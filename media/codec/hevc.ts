/** HEVC decoder configuration record (ISO/IEC 14496-15 8.3.3.1): parameter sets for passthrough and HLS. */
import { MediaError } from '../errors.ts';

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
