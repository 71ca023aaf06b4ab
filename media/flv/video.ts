/** VIDEODATA tag headers: legacy (FLV spec E.4.3.1) and Enhanced RTMP ExVideoTagHeader (veovera v1/v2). */
import { MediaError } from '../errors.ts';

export interface VideoTagInfo {
  frameType: number;
  isKeyframe: boolean;
  codec: 'avc' | 'hevc' | 'av1' | 'vp9' | 'h263' | 'vp6' | 'other';
  enhanced: boolean;
  fourCC?: string;
  packetType: 'sequence-header' | 'coded-frames' | 'end-of-sequence' | 'metadata' | 'other';
  compositionTimeMs: number;
  payloadOffset: number;
}

const FOURCC: Record<string, VideoTagInfo['codec']> = { avc1: 'avc', hvc1: 'hevc', av01: 'av1', vp09: 'vp9' };

function si24(b: Buffer, off: number): number {
  const v = b.readUIntBE(off, 3);
  return v & 0x800000 ? v - 0x1000000 : v;
}

export function parseVideoTag(body: Buffer): VideoTagInfo {
  if (body.length < 1) throw new MediaError('RC_CODEC_TRUNCATED', 'FLV: empty video tag');
  const b0 = body[0]!;
  const frameType = (b0 >> 4) & 0x07;
  if (b0 & 0x80) {
    // Enhanced RTMP: IsExHeader | FrameType(3) | PacketType(4), then FourCC
    if (body.length < 5) throw new MediaError('RC_CODEC_TRUNCATED', 'FLV: short enhanced video tag');
    const pt = b0 & 0x0f;
    const fourCC = body.toString('latin1', 1, 5);
    const codec = FOURCC[fourCC] ?? 'other';
    // PacketType: 0 SequenceStart, 1 CodedFrames (SI24 CTS for avc1/hvc1), 2 SequenceEnd,
    // 3 CodedFramesX (no CTS), 4 Metadata, 5 MPEG2TSSequenceStart, 6 Multitrack, 7 ModEx
    let packetType: VideoTagInfo['packetType'] = 'other';
    let cts = 0;
    let payloadOffset = 5;
    if (pt === 0) packetType = 'sequence-header';
    else if (pt === 1) {
      packetType = 'coded-frames';
      if (codec === 'avc' || codec === 'hevc') {
        if (body.length < 8)
          throw new MediaError('RC_CODEC_TRUNCATED', 'FLV: enhanced CodedFrames without CompositionTime');
        cts = si24(body, 5);
        payloadOffset = 8;
      }
    } else if (pt === 3) packetType = 'coded-frames';
    else if (pt === 2) packetType = 'end-of-sequence';
    else if (pt === 4) packetType = 'metadata';
    return {
      frameType,
      isKeyframe: frameType === 1,
      codec,
      enhanced: true,
      fourCC,
      packetType,
      compositionTimeMs: cts,
      payloadOffset,
    };
  }
  const codecId = b0 & 0x0f;
  const codec: VideoTagInfo['codec'] =
    codecId === 7
      ? 'avc'
      : codecId === 12
        ? 'hevc'
        : codecId === 2
          ? 'h263'
          : codecId === 4 || codecId === 5
            ? 'vp6'
            : 'other';
  if (codec === 'avc' || codec === 'hevc') {
    if (body.length < 5) throw new MediaError('RC_CODEC_TRUNCATED', 'FLV: short AVC video tag');
    const apt = body[1]!;
    const packetType =
      apt === 0 ? 'sequence-header' : apt === 1 ? 'coded-frames' : apt === 2 ? 'end-of-sequence' : 'other';
    return {
      frameType,
      isKeyframe: frameType === 1,
      codec,
      enhanced: false,
      packetType,
      compositionTimeMs: si24(body, 2),
      payloadOffset: 5,
    };
  }
  return {
    frameType,
    isKeyframe: frameType === 1,
    codec,
    enhanced: false,
    packetType: 'coded-frames',
    compositionTimeMs: 0,
    payloadOffset: 1,
  };
}
