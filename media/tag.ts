/**
 * The unit the stream hub moves around: one FLV-level media tag (RTMP message types 8, 9, 18 carry
 * exactly FLV tag bodies, so RTMP ingest, HTTP-FLV pulls and FLV files all produce these).
 *
 * `data` is the FLV tag body (AUDIODATA / VIDEODATA / SCRIPTDATA, Adobe FLV spec v10.1 E.4), never
 * copied after ingest: every output format reads it. Treat it as immutable.
 */
export const TAG_AUDIO = 8;
export const TAG_VIDEO = 9;
export const TAG_SCRIPT = 18;
export type TagType = typeof TAG_AUDIO | typeof TAG_VIDEO | typeof TAG_SCRIPT;

export interface MediaTag {
  type: TagType;
  /** Decode timestamp in milliseconds. In the hub this is the stream's own monotonic timeline. */
  timestamp: number;
  data: Buffer;
}

/** VIDEODATA: FrameType (UB[4]) = 1 is a keyframe; legacy and Enhanced RTMP share that nibble. */
export function isVideoKeyframe(data: Buffer): boolean {
  return data.length > 0 && ((data[0]! >> 4) & 0x07) === 1;
}

/**
 * True when a video tag carries a decoder configuration record instead of a frame:
 * legacy AVC/HEVC (CodecID 7/12) with AVCPacketType 0, or Enhanced RTMP (IsExHeader bit set)
 * with PacketType SequenceStart (0).
 */
export function isVideoSequenceHeader(data: Buffer): boolean {
  if (data.length < 2) return false;
  const b0 = data[0]!;
  if (b0 & 0x80) return (b0 & 0x0f) === 0; // Enhanced RTMP: ExVideoTagHeader, PacketType in low nibble
  const codecId = b0 & 0x0f;
  return (codecId === 7 || codecId === 12) && data[1] === 0;
}

/** AUDIODATA: SoundFormat 10 (AAC) with AACPacketType 0 is the AudioSpecificConfig. */
export function isAudioSequenceHeader(data: Buffer): boolean {
  if (data.length < 2) return false;
  const soundFormat = data[0]! >> 4;
  return soundFormat === 10 && data[1] === 0;
}

/** VIDEODATA frame type 5: video info/command frame, not a picture. */
export function isVideoInfoFrame(data: Buffer): boolean {
  return data.length > 0 && ((data[0]! >> 4) & 0x07) === 5;
}
