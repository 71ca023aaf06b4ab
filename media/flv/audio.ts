/** AUDIODATA tag headers (FLV spec E.4.2.1), plus the Enhanced RTMP audio FourCC form. */
import { MediaError } from '../errors.ts';

export interface AudioTagInfo {
  soundFormat: number;
  codec: 'aac' | 'mp3' | 'opus' | 'other';
  soundRateHz: number;
  soundSize: 8 | 16;
  channels: 1 | 2;
  isSequenceHeader: boolean;
  payloadOffset: number;
}

const RATES = [5512, 11025, 22050, 44100];

export function parseAudioTag(body: Buffer): AudioTagInfo {
  if (body.length < 1) throw new MediaError('RC_CODEC_TRUNCATED', 'FLV: empty audio tag');
  const b0 = body[0]!;
  const soundFormat = b0 >> 4;
  const base = {
    soundFormat,
    soundRateHz: RATES[(b0 >> 2) & 3]!,
    soundSize: (b0 & 2 ? 16 : 8) as 8 | 16,
    channels: (b0 & 1 ? 2 : 1) as 1 | 2,
  };
  if (soundFormat === 10) {
    if (body.length < 2) throw new MediaError('RC_CODEC_TRUNCATED', 'FLV: short AAC audio tag');
    return { ...base, codec: 'aac', isSequenceHeader: body[1] === 0, payloadOffset: 2 };
  }
  if (soundFormat === 2 || soundFormat === 14)
    return { ...base, codec: 'mp3', isSequenceHeader: false, payloadOffset: 1 };
  if (soundFormat === 9) {
    // Enhanced RTMP audio: SoundFormat 9 = ExHeader, low nibble AudioPacketType, then FourCC
    if (body.length < 5) throw new MediaError('RC_CODEC_TRUNCATED', 'FLV: short enhanced audio tag');
    const fourCC = body.toString('latin1', 1, 5);
    const codec =
      fourCC === 'Opus' ? 'opus' : fourCC === 'mp4a' ? 'aac' : fourCC === '.mp3' ? 'mp3' : 'other';
    return { ...base, codec, isSequenceHeader: (b0 & 0x0f) === 0, payloadOffset: 5 };
  }
  return { ...base, codec: 'other', isSequenceHeader: false, payloadOffset: 1 };
}
