/** AAC AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) and ADTS headers (ISO/IEC 13818-7 6.2). */
import { MediaError } from '../errors.ts';
import { BitReader } from './bits.ts';

export const AAC_SAMPLE_RATES = [
  96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

export interface AudioSpecificConfig {
  audioObjectType: number;
  samplingFrequencyIndex: number;
  sampleRateHz: number;
  channelConfiguration: number;
  extensionSampleRateHz?: number;
}

function objectType(r: BitReader): number {
  const t = r.u(5);
  return t === 31 ? 32 + r.u(6) : t;
}

function frequency(r: BitReader): { index: number; hz: number } {
  const index = r.u(4);
  if (index === 15) return { index, hz: r.u(24) };
  const hz = AAC_SAMPLE_RATES[index];
  if (hz === undefined)
    throw new MediaError('RC_CODEC_INVALID', `AAC: reserved sampling frequency index ${index}`);
  return { index, hz };
}

export function parseAudioSpecificConfig(asc: Buffer): AudioSpecificConfig {
  if (asc.length < 2) throw new MediaError('RC_CODEC_TRUNCATED', 'AAC: AudioSpecificConfig too short');
  const r = new BitReader(asc);
  let audioObjectType = objectType(r);
  const f = frequency(r);
  const channelConfiguration = r.u(4);
  const out: AudioSpecificConfig = {
    audioObjectType,
    samplingFrequencyIndex: f.index,
    sampleRateHz: f.hz,
    channelConfiguration,
  };
  if (audioObjectType === 5 || audioObjectType === 29) {
    // explicit SBR (HE-AAC) / PS (HE-AACv2) signalling: extension rate, then the core object type
    try {
      out.extensionSampleRateHz = frequency(r).hz;
      audioObjectType = objectType(r);
      out.audioObjectType =
        audioObjectType === 2 ? (out.audioObjectType === 29 ? 29 : 5) : out.audioObjectType;
    } catch {
      /* truncated extension: keep what we have */
    }
  }
  return out;
}

export function aacProfileName(aot: number): string {
  return aot === 2
    ? 'LC'
    : aot === 5
      ? 'HE-AAC'
      : aot === 29
        ? 'HE-AACv2'
        : aot === 1
          ? 'Main'
          : aot === 23
            ? 'LD'
            : `AOT ${aot}`;
}

/** 7-byte ADTS header without CRC for one raw AAC frame. */
export function adtsHeader(config: AudioSpecificConfig, rawLength: number): Buffer {
  const frameLength = rawLength + 7;
  if (frameLength > 0x1fff)
    throw new MediaError('RC_CODEC_INVALID', `AAC: frame of ${rawLength} bytes too large for ADTS`);
  // HE-AAC is carried as its AAC-LC core in ADTS (implicit SBR signalling)
  const profile = Math.min(
    Math.max(
      (config.audioObjectType === 5 || config.audioObjectType === 29 ? 2 : config.audioObjectType) - 1,
      0,
    ),
    3,
  );
  const sfi = config.samplingFrequencyIndex === 15 ? 4 : config.samplingFrequencyIndex;
  const ch = config.channelConfiguration;
  const h = Buffer.allocUnsafe(7);
  h[0] = 0xff; // syncword 0xFFF
  h[1] = 0xf1; // MPEG-4, layer 0, protection_absent 1
  h[2] = (profile << 6) | (sfi << 2) | ((ch >> 2) & 1);
  h[3] = ((ch & 3) << 6) | ((frameLength >> 11) & 3);
  h[4] = (frameLength >> 3) & 0xff;
  h[5] = ((frameLength & 7) << 5) | 0x1f; // buffer fullness 0x7FF (VBR)
  h[6] = 0xfc; // fullness cont. + number_of_raw_data_blocks_in_frame 0
  return h;
}
