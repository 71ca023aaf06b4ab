/**
 * Live HLS segmenter: FLV-level tags in, MPEG-TS segments out, written once per stream.
 * Segments start on a keyframe and close at the first keyframe past the target duration (a long
 * GOP simply makes a long segment). Audio-only streams are cut on time.
 */
import { type AudioSpecificConfig, adtsHeader, parseAudioSpecificConfig } from '../codec/aac.ts';
import { avccToAnnexB, parseAvcDecoderConfig } from '../codec/avc.ts';
import { parseHevcDecoderConfig } from '../codec/hevc.ts';
import { MediaError } from '../errors.ts';
import { parseAudioTag } from '../flv/audio.ts';
import { parseVideoTag } from '../flv/video.ts';
import { TsMuxer } from '../mpegts/muxer.ts';
import { type MediaTag, TAG_AUDIO, TAG_VIDEO } from '../tag.ts';

export interface HlsSegment {
  sequence: number;
  durationMs: number;
  data: Buffer;
  discontinuity: boolean;
  /** Wall clock (epoch ms) of the segment's first frame. */
  programDateTime: number;
  hasKeyframeStart: boolean;
  byteLength: number;
}

export interface HlsSegmenterOptions {
  targetDurationMs: number;
  windowSegments: number;
  maxWindowBytes: number;
  maxSegmentDurationMs: number;
}

export const DEFAULT_HLS_SEGMENTER_OPTIONS: HlsSegmenterOptions = {
  targetDurationMs: 1000,
  windowSegments: 6,
  maxWindowBytes: 64 * 1024 * 1024,
  maxSegmentDurationMs: 10_000,
};

export interface HlsSegmenterState {
  nextSequence: number;
  discontinuitySequence: number;
  discontinuityNext: boolean;
}

const START_CODE = Buffer.from([0, 0, 0, 1]);
const AUD_H264 = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);
const AUD_HEVC = Buffer.from([0, 0, 0, 1, 0x46, 0x01, 0x50]);

interface VideoConfig {
  codec: 'h264' | 'hevc';
  nalLengthSize: number;
  parameterSets: Buffer[];
  raw: Buffer;
}

interface OpenSegment {
  sequence: number;
  firstDts: number;
  lastDts: number;
  frames: number;
  programDateTime: number;
  discontinuity: boolean;
  hasKeyframeStart: boolean;
}

export class HlsSegmenter {
  private readonly options: HlsSegmenterOptions;
  private readonly muxer = new TsMuxer();
  private video: VideoConfig | undefined;
  private audioCodec: 'aac' | 'mp3' | undefined;
  private asc: AudioSpecificConfig | undefined;
  private hasVideoTrack = false;
  private open: OpenSegment | undefined;
  private forceCut = false;
  private readonly window: HlsSegment[] = [];
  private windowBytes = 0;
  private nextSequence: number;
  private discSequence: number;
  private discontinuityNext: boolean;
  ended = false;

  constructor(options?: Partial<HlsSegmenterOptions>, state?: HlsSegmenterState) {
    this.options = { ...DEFAULT_HLS_SEGMENTER_OPTIONS, ...options };
    this.nextSequence = state?.nextSequence ?? 0;
    this.discSequence = state?.discontinuitySequence ?? 0;
    this.discontinuityNext = state?.discontinuityNext ?? false;
  }

  get segments(): readonly HlsSegment[] {
    return this.window;
  }

  get mediaSequence(): number {
    return this.window[0]?.sequence ?? this.nextSequence;
  }

  get discontinuitySequence(): number {
    return this.discSequence;
  }

  state(): HlsSegmenterState {
    return {
      nextSequence: this.nextSequence + (this.open ? 1 : 0),
      discontinuitySequence: this.discSequence + this.window.filter((s) => s.discontinuity).length,
      discontinuityNext: this.discontinuityNext,
    };
  }

  getSegment(sequence: number): HlsSegment | undefined {
    const first = this.window[0];
    if (!first) return undefined;
    return this.window[sequence - first.sequence];
  }

  markDiscontinuity(): void {
    this.discontinuityNext = true;
    this.forceCut = true;
    this.ended = false;
  }

  push(tag: MediaTag, nowMs: number): HlsSegment | undefined {
    if (this.ended) return undefined;
    try {
      if (tag.type === TAG_VIDEO) return this.onVideo(tag, nowMs);
      if (tag.type === TAG_AUDIO) return this.onAudio(tag, nowMs);
    } catch (err) {
      // A damaged frame is dropped; it must not stop the packager.
      if (!(err instanceof MediaError)) throw err;
    }
    return undefined;
  }

  private onVideo(tag: MediaTag, nowMs: number): HlsSegment | undefined {
    const info = parseVideoTag(tag.data);
    if (info.codec !== 'avc' && info.codec !== 'hevc') return undefined; // not packaged (passes through FLV/RTMP)
    const payload = tag.data.subarray(info.payloadOffset);
    if (info.packetType === 'sequence-header') {
      const changed = this.video !== undefined && !this.video.raw.equals(payload);
      if (info.codec === 'avc') {
        const c = parseAvcDecoderConfig(payload);
        this.video = {
          codec: 'h264',
          nalLengthSize: c.nalLengthSize,
          parameterSets: [...c.sps, ...c.pps],
          raw: Buffer.from(payload),
        };
      } else {
        const c = parseHevcDecoderConfig(payload);
        this.video = {
          codec: 'hevc',
          nalLengthSize: c.nalLengthSize,
          parameterSets: [...c.vps, ...c.sps, ...c.pps],
          raw: Buffer.from(payload),
        };
      }
      this.hasVideoTrack = true;
      if (changed && this.open) this.markDiscontinuity();
      return undefined;
    }
    if (info.packetType !== 'coded-frames' || !this.video) return undefined;
    this.hasVideoTrack = true;
    const dts = tag.timestamp;
    let closed: HlsSegment | undefined;
    if (info.isKeyframe) {
      if (this.open && (this.forceCut || dts - this.open.firstDts >= this.options.targetDurationMs))
        closed = this.close(dts);
      if (!this.open) this.start(dts, nowMs, true);
    }
    if (!this.open) return closed; // wait for the first keyframe
    const cfg = this.video;
    const nals = avccToAnnexB(tag.data, info.payloadOffset, cfg.nalLengthSize);
    const parts: Buffer[] = [cfg.codec === 'h264' ? AUD_H264 : AUD_HEVC];
    if (info.isKeyframe) for (const ps of cfg.parameterSets) parts.push(START_CODE, ps);
    for (const nal of nals) {
      const type = cfg.codec === 'h264' ? nal[0]! & 0x1f : (nal[0]! >> 1) & 0x3f;
      if (type === (cfg.codec === 'h264' ? 9 : 35)) continue; // our own AUD goes first
      parts.push(START_CODE, nal);
    }
    this.muxer.writeVideo(Buffer.concat(parts), dts + info.compositionTimeMs, dts, info.isKeyframe);
    this.open.lastDts = dts;
    this.open.frames++;
    return closed;
  }

  private onAudio(tag: MediaTag, nowMs: number): HlsSegment | undefined {
    const info = parseAudioTag(tag.data);
    if (info.codec === 'aac' && tag.data[0]! >> 4 === 10) {
      if (info.isSequenceHeader) {
        this.asc = parseAudioSpecificConfig(tag.data.subarray(info.payloadOffset));
        this.audioCodec = 'aac';
        return undefined;
      }
      if (!this.asc) return undefined;
    } else if (info.codec === 'mp3') {
      this.audioCodec = 'mp3';
    } else return undefined;
    const dts = tag.timestamp;
    let closed: HlsSegment | undefined;
    if (!this.hasVideoTrack) {
      // audio-only: cut on time, at an audio frame boundary
      if (this.open && (this.forceCut || dts - this.open.firstDts >= this.options.targetDurationMs))
        closed = this.close(dts);
      if (!this.open) this.start(dts, nowMs, false);
    }
    if (!this.open) return closed;
    const raw = tag.data.subarray(info.payloadOffset);
    const frame = this.audioCodec === 'aac' ? Buffer.concat([adtsHeader(this.asc!, raw.length), raw]) : raw;
    this.muxer.writeAudio(frame, dts);
    if (!this.hasVideoTrack) {
      this.open.lastDts = dts;
      this.open.frames++;
    }
    return closed;
  }

  private start(dts: number, nowMs: number, keyframe: boolean): void {
    this.muxer.setTracks({
      ...(this.video ? { video: this.video.codec } : {}),
      ...(this.audioCodec ? { audio: this.audioCodec } : {}),
    });
    this.muxer.writeTables();
    this.open = {
      sequence: this.nextSequence,
      firstDts: dts,
      lastDts: dts,
      frames: 0,
      programDateTime: nowMs,
      discontinuity: this.discontinuityNext,
      hasKeyframeStart: keyframe,
    };
    this.discontinuityNext = false;
    this.forceCut = false;
  }

  /** Closes the open segment; `endDts` is the first dts of what follows (or an estimate). */
  private close(endDts: number): HlsSegment | undefined {
    const open = this.open;
    if (!open) return undefined;
    this.open = undefined;
    const data = this.muxer.flush();
    const seg: HlsSegment = {
      sequence: open.sequence,
      durationMs: Math.max(1, endDts - open.firstDts),
      data,
      discontinuity: open.discontinuity,
      programDateTime: open.programDateTime,
      hasKeyframeStart: open.hasKeyframeStart,
      byteLength: data.length,
    };
    this.nextSequence = open.sequence + 1;
    this.window.push(seg);
    this.windowBytes += data.length;
    while (
      this.window.length > 1 &&
      (this.window.length > this.options.windowSegments || this.windowBytes > this.options.maxWindowBytes)
    ) {
      const old = this.window.shift()!;
      this.windowBytes -= old.byteLength;
      if (old.discontinuity) this.discSequence++;
    }
    return seg;
  }

  end(_nowMs: number): HlsSegment | undefined {
    let seg: HlsSegment | undefined;
    const open = this.open;
    if (open && open.frames > 0) {
      const frameMs = open.frames > 1 ? (open.lastDts - open.firstDts) / (open.frames - 1) : 40;
      seg = this.close(open.lastDts + frameMs);
    }
    this.open = undefined;
    this.ended = true;
    return seg;
  }
}
