/**
 * Synthetic FLV tags for the HLS tests (test-only helpers; nothing in the server imports this).
 */
import { type MediaTag, TAG_AUDIO, TAG_VIDEO } from '../tag.ts';

export const SPS = Buffer.from([0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10]);
export const PPS = Buffer.from([0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0]);

/** AVCDecoderConfigurationRecord with 4-byte NAL lengths. */
export function avcC(sps: Buffer = SPS, pps: Buffer = PPS): Buffer {
  const head = Buffer.from([1, sps[1]!, sps[2]!, sps[3]!, 0xff, 0xe1]);
  const len = (b: Buffer) => Buffer.from([b.length >> 8, b.length & 0xff]);
  return Buffer.concat([head, len(sps), sps, Buffer.from([1]), len(pps), pps]);
}

export function avcSequenceHeader(ts: number, sps: Buffer = SPS, pps: Buffer = PPS): MediaTag {
  return {
    type: TAG_VIDEO,
    timestamp: ts,
    data: Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0]), avcC(sps, pps)]),
  };
}

function lengthPrefixed(nals: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const n of nals) {
    const l = Buffer.alloc(4);
    l.writeUInt32BE(n.length);
    parts.push(l, n);
  }
  return Buffer.concat(parts);
}

function si24(v: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntBE(v < 0 ? v + 0x1000000 : v, 0, 3);
  return b;
}

/** An AVC frame tag: keyframes carry an IDR slice, others a non-IDR slice. */
export function avcFrame(
  ts: number,
  key: boolean,
  opts: { cts?: number; size?: number; nals?: Buffer[] } = {},
): MediaTag {
  const slice = Buffer.alloc(opts.size ?? 200, 0x5a);
  slice[0] = key ? 0x65 : 0x41;
  const nals = opts.nals ?? [slice];
  return {
    type: TAG_VIDEO,
    timestamp: ts,
    data: Buffer.concat([Buffer.from([key ? 0x17 : 0x27, 1]), si24(opts.cts ?? 0), lengthPrefixed(nals)]),
  };
}

export const VPS_H = Buffer.from([0x40, 0x01, 0x0c, 0x01, 0xff, 0xff]);
export const SPS_H = Buffer.from([0x42, 0x01, 0x01, 0x01, 0x60, 0x00]);
export const PPS_H = Buffer.from([0x44, 0x01, 0xc1, 0x72]);

/** HEVCDecoderConfigurationRecord (23-byte header + VPS/SPS/PPS arrays), 4-byte NAL lengths. */
export function hvcC(): Buffer {
  const head = Buffer.alloc(23);
  head[0] = 1;
  head[1] = 0x01; // general_profile_idc 1 (Main)
  head[12] = 93;
  head[21] = 0x0f; // lengthSizeMinusOne 3
  head[22] = 3;
  const arr = (type: number, nal: Buffer) =>
    Buffer.concat([Buffer.from([0x80 | type, 0, 1, nal.length >> 8, nal.length & 0xff]), nal]);
  return Buffer.concat([head, arr(32, VPS_H), arr(33, SPS_H), arr(34, PPS_H)]);
}

export function hevcSequenceHeader(ts: number): MediaTag {
  return { type: TAG_VIDEO, timestamp: ts, data: Buffer.concat([Buffer.from([0x1c, 0, 0, 0, 0]), hvcC()]) };
}

export function hevcFrame(ts: number, key: boolean): MediaTag {
  const slice = Buffer.alloc(150, 0x33);
  slice[0] = key ? 19 << 1 : 1 << 1; // IDR_W_RADL / TRAIL_R
  slice[1] = 0x01;
  return {
    type: TAG_VIDEO,
    timestamp: ts,
    data: Buffer.concat([Buffer.from([key ? 0x1c : 0x2c, 1, 0, 0, 0]), lengthPrefixed([slice])]),
  };
}

/** AAC-LC 44.1 kHz stereo AudioSpecificConfig. */
export const ASC = Buffer.from([0x12, 0x10]);

export function aacSequenceHeader(ts: number, asc: Buffer = ASC): MediaTag {
  return { type: TAG_AUDIO, timestamp: ts, data: Buffer.concat([Buffer.from([0xaf, 0]), asc]) };
}

export function aacFrame(ts: number, size = 120): MediaTag {
  return {
    type: TAG_AUDIO,
    timestamp: ts,
    data: Buffer.concat([Buffer.from([0xaf, 1]), Buffer.alloc(size, 0x21)]),
  };
}

/** An MPEG-1 Layer III frame header (128 kbps, 44.1 kHz, stereo) plus filler. */
export function mp3Frame(ts: number): MediaTag {
  const frame = Buffer.alloc(417, 0);
  frame.writeUInt32BE(0xfffb9000);
  return { type: TAG_AUDIO, timestamp: ts, data: Buffer.concat([Buffer.from([0x2f]), frame]) };
}

/** ms timestamps of frame i at a frame rate, as an encoder rounds them. */
export function frameTs(i: number, fps = 30, start = 0): number {
  return start + Math.round((i * 1000) / fps);
}

/** AAC frame timestamps (1024 samples at 44.1 kHz). */
export function aacTs(i: number, start = 0): number {
  return start + Math.round((i * 1024 * 1000) / 44100);
}

/**
 * A/V stream: sequence headers, then video at fps with a keyframe every gop frames, interleaved
 * with AAC frames by timestamp.
 */
export function avStream(opts: {
  seconds: number;
  fps?: number;
  gop: number;
  audio?: boolean;
  start?: number;
  bframes?: boolean;
}): MediaTag[] {
  const fps = opts.fps ?? 30;
  const start = opts.start ?? 0;
  const tags: MediaTag[] = [avcSequenceHeader(start)];
  if (opts.audio !== false) tags.push(aacSequenceHeader(start));
  const frames: MediaTag[] = [];
  for (let i = 0; frameTs(i, fps) < opts.seconds * 1000; i++)
    frames.push(avcFrame(frameTs(i, fps, start), i % opts.gop === 0, { cts: opts.bframes ? 67 : 0 }));
  if (opts.audio !== false)
    for (let i = 0; aacTs(i) < opts.seconds * 1000; i++) frames.push(aacFrame(aacTs(i, start)));
  frames.sort((a, b) => a.timestamp - b.timestamp || b.type - a.type);
  return tags.concat(frames);
}
