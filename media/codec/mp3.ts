/** MPEG audio frame headers (ISO/IEC 11172-3 2.4.1.3, ISO/IEC 13818-3). */
import { MediaError } from '../errors.ts';

export interface Mp3FrameHeader {
  version: 1 | 2 | 2.5;
  layer: 1 | 2 | 3;
  bitrateKbps: number;
  sampleRateHz: number;
  channels: 1 | 2;
  frameBytes: number;
  samplesPerFrame: number;
  padding: boolean;
}

const BITRATES: Record<string, number[]> = {
  V1L1: [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  V1L2: [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  V1L3: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  V2L1: [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  V2L2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  V2L3: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const RATES: Record<string, number[]> = {
  '1': [44100, 48000, 32000],
  '2': [22050, 24000, 16000],
  '2.5': [11025, 12000, 8000],
};

export function parseMp3FrameHeader(buf: Buffer, offset = 0): Mp3FrameHeader {
  if (buf.length < offset + 4) throw new MediaError('RC_CODEC_TRUNCATED', 'MP3: header needs 4 bytes');
  const h = buf.readUInt32BE(offset);
  if (h >>> 21 !== 0x7ff) throw new MediaError('RC_CODEC_INVALID', 'MP3: no frame sync');
  const v = (h >>> 19) & 3;
  const l = (h >>> 17) & 3;
  if (v === 1) throw new MediaError('RC_CODEC_INVALID', 'MP3: reserved version');
  if (l === 0) throw new MediaError('RC_CODEC_INVALID', 'MP3: reserved layer');
  const version = v === 3 ? 1 : v === 2 ? 2 : 2.5;
  const layer = (4 - l) as 1 | 2 | 3;
  const bi = (h >>> 12) & 0xf;
  const si = (h >>> 10) & 3;
  if (bi === 0) throw new MediaError('RC_CODEC_UNSUPPORTED', 'MP3: free-format bitrate');
  if (bi === 15) throw new MediaError('RC_CODEC_INVALID', 'MP3: bad bitrate index');
  if (si === 3) throw new MediaError('RC_CODEC_INVALID', 'MP3: reserved sample rate');
  const bitrateKbps = BITRATES[`${version === 1 ? 'V1' : 'V2'}L${layer}`]![bi]!;
  const sampleRateHz = RATES[String(version)]![si]!;
  const padding = ((h >>> 9) & 1) === 1;
  const channels = ((h >>> 6) & 3) === 3 ? 1 : 2;
  const samplesPerFrame = layer === 1 ? 384 : layer === 2 ? 1152 : version === 1 ? 1152 : 576;
  const frameBytes =
    layer === 1
      ? (Math.floor((12 * bitrateKbps * 1000) / sampleRateHz) + (padding ? 1 : 0)) * 4
      : Math.floor(((samplesPerFrame / 8) * bitrateKbps * 1000) / sampleRateHz) + (padding ? 1 : 0);
  return { version, layer, bitrateKbps, sampleRateHz, channels, frameBytes, samplesPerFrame, padding };
}
