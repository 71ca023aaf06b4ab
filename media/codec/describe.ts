/** Human-facing codec descriptions for the admin API and the registry. */
import { parseAudioTag } from '../flv/audio.ts';
import { parseVideoTag } from '../flv/video.ts';
import { AAC_SAMPLE_RATES, aacProfileName, parseAudioSpecificConfig } from './aac.ts';
import { AVC_PROFILE_NAMES, parseAvcDecoderConfig, parseSps } from './avc.ts';
import { parseHevcDecoderConfig } from './hevc.ts';
import { parseMp3FrameHeader } from './mp3.ts';

export interface StreamCodecInfo {
  video?: {
    codec: string;
    profile?: string;
    level?: number;
    width?: number;
    height?: number;
    frameRate?: number;
  };
  audio?: { codec: string; sampleRateHz?: number; channels?: number; profile?: string };
}

const NAMES: Record<string, string> = {
  avc: 'h264',
  hevc: 'hevc',
  av1: 'av1',
  vp9: 'vp9',
  h263: 'h263',
  vp6: 'vp6',
};

export function describeVideoSequenceHeader(tagBody: Buffer): StreamCodecInfo['video'] {
  const info = parseVideoTag(tagBody);
  const codec = NAMES[info.codec] ?? info.fourCC ?? 'unknown';
  const record = tagBody.subarray(info.payloadOffset);
  if (info.codec === 'avc') {
    const cfg = parseAvcDecoderConfig(record);
    const sps = cfg.sps[0] ? parseSps(cfg.sps[0]) : undefined;
    let profile = AVC_PROFILE_NAMES[cfg.profileIdc] ?? `profile ${cfg.profileIdc}`;
    if (cfg.profileIdc === 66 && cfg.profileCompatibility & 0x40) profile = 'Constrained Baseline';
    return {
      codec,
      profile,
      level: cfg.levelIdc / 10,
      ...(sps ? { width: sps.width, height: sps.height } : {}),
      ...(sps?.frameRate ? { frameRate: sps.frameRate } : {}),
    };
  }
  if (info.codec === 'hevc') {
    const cfg = parseHevcDecoderConfig(record);
    return {
      codec,
      profile:
        cfg.generalProfileIdc === 1
          ? 'Main'
          : cfg.generalProfileIdc === 2
            ? 'Main 10'
            : `profile ${cfg.generalProfileIdc}`,
      level: cfg.generalLevelIdc / 30,
    };
  }
  return { codec };
}

export function describeAudioTag(tagBody: Buffer): StreamCodecInfo['audio'] {
  const info = parseAudioTag(tagBody);
  if (info.codec === 'aac' && info.isSequenceHeader && !(tagBody[0]! >> 4 === 9)) {
    const asc = parseAudioSpecificConfig(tagBody.subarray(info.payloadOffset));
    return {
      codec: 'aac',
      profile: aacProfileName(asc.audioObjectType),
      sampleRateHz:
        asc.extensionSampleRateHz ?? asc.sampleRateHz ?? AAC_SAMPLE_RATES[asc.samplingFrequencyIndex],
      channels: asc.channelConfiguration,
    };
  }
  if (info.codec === 'mp3' && tagBody.length >= info.payloadOffset + 4) {
    const h = parseMp3FrameHeader(tagBody, info.payloadOffset);
    return { codec: 'mp3', sampleRateHz: h.sampleRateHz, channels: h.channels };
  }
  return {
    codec: info.codec === 'other' ? `soundformat-${info.soundFormat}` : info.codec,
    sampleRateHz: info.soundRateHz,
    channels: info.channels,
  };
}
