/**
 * Live HLS segmenter: FLV-level tags in, MPEG-TS segments out, written once per stream.
 *
 * - With video, a segment starts on a keyframe and closes at the first keyframe whose DTS is at
 *   least the target duration past the segment's first DTS (a GOP longer than the target makes a
 *   longer segment). Frames before the first keyframe are dropped. A GOP longer than
 *   maxSegmentDurationMs (or an open segment above maxWindowBytes) is cut on any frame at that
 *   hard maximum; the next keyframe then starts a new segment, to realign on keyframes.
 * - EXT-X-TARGETDURATION is fixed for the life of the playlist: ceil(maxSegmentDurationMs) in
 *   seconds (targetDurationSeconds). Segments never pass the hard maximum by more than one frame
 *   interval, so every EXTINF rounds to at most that value (RFC 8216 4.3.3.1) without the tag ever
 *   changing (players derive reload and live-edge timing from it).
 * - Audio-only streams are cut on time, at an audio frame boundary.
 * - A segment that leaves the window stays retrievable (getSegment) for its own duration plus the
 *   longest playlist that listed it (RFC 8216 6.2.2), so a player holding a slightly older
 *   playlist (or an edge's cached one) still gets it.
 * - Durations are DTS-based: a segment lasts from its first DTS to the next segment's first DTS;
 *   a segment closed without a successor (end(), a discontinuity) ends one frame after its last.
 * - TS timestamps stay on the input timeline (ms × 90, 33-bit wrap).
 * - Codec parameter changes (new configuration record bytes, other AAC config, other codec,
 *   tracks appearing), timeline jumps and markDiscontinuity() start a new segment flagged
 *   `discontinuity`.
 *
 * Damaged input never throws: a tag the codec parsers reject (MediaError) is dropped.
 */
import { type AudioSpecificConfig, adtsHeader, parseAudioSpecificConfig } from '../codec/aac.ts';
import { avccToAnnexB, NAL_AUD, NAL_IDR, NAL_PPS, NAL_SPS, parseAvcDecoderConfig } from '../codec/avc.ts';
import { parseHevcDecoderConfig } from '../codec/hevc.ts';
import { parseMp3FrameHeader } from '../codec/mp3.ts';
import { MediaError } from '../errors.ts';
import { parseAudioTag } from '../flv/audio.ts';
import { parseVideoTag } from '../flv/video.ts';
import { TsMuxer, type TsMuxerOptions } from '../mpegts/muxer.ts';
import { type MediaTag, TAG_AUDIO, TAG_VIDEO } from '../tag.ts';

export interface HlsSegment {
  sequence: number;
  durationMs: number;
  /** Whole MPEG-TS packets: PAT, PMT, then the media. Never modified after the segment closes. */
  data: Buffer;
  /** The playlist puts EXT-X-DISCONTINUITY before this segment. */
  discontinuity: boolean;
  /** Wall clock (epoch ms) of the segment's first frame. */
  programDateTime: number;
  /** Starts at a random access point: a video keyframe, or any audio frame of an audio-only stream. */
  hasKeyframeStart: boolean;
  byteLength: number;
}

/** A segment that left the playlist window but must stay available until `availableUntilMs`. */
export interface RetiredSegment {
  segment: HlsSegment;
  /** Wall clock (epoch ms) after which it may be forgotten. */
  availableUntilMs: number;
}

export interface HlsSegmenterOptions {
  targetDurationMs: number;
  windowSegments: number;
  maxWindowBytes: number;
  /**
   * Hard cut for a GOP longer than this, on any frame. Also fixes EXT-X-TARGETDURATION at
   * ceil(maxSegmentDurationMs / 1000) s for the whole playlist.
   */
  maxSegmentDurationMs: number;
}

/**
 * EXT-X-TARGETDURATION for segments cut at `maxSegmentDurationMs` at the latest: a segment lasts
 * up to the hard maximum plus one frame interval, which rounds to at most this value as long as
 * frames come less than 0.5 s apart.
 */
export function targetDurationSecondsFor(maxSegmentDurationMs: number): number {
  return Math.max(1, Math.ceil(maxSegmentDurationMs / 1000));
}

export const DEFAULT_HLS_SEGMENTER_OPTIONS: Readonly<HlsSegmenterOptions> = {
  targetDurationMs: 1000,
  windowSegments: 6,
  maxWindowBytes: 64 * 1024 * 1024,
  maxSegmentDurationMs: 10_000,
};

/** What state() returns: enough for a new segmenter (republish) to keep counting. */
export interface HlsSegmenterState {
  /** Sequence of the oldest segment in the window (or nextSequence when it is empty). */
  mediaSequence: number;
  /**
   * Discontinuity sequence for a successor segmenter: this segmenter's value plus the
   * discontinuities still in its window, i.e. the discontinuity number of its newest segment.
   */
  discontinuitySequence: number;
  /** The sequence number the next segment gets. */
  nextSequence: number;
  /** A discontinuity was requested but no segment carried it yet. */
  discontinuityNext: boolean;
  /**
   * Segments a successor must keep available (RFC 8216 6.2.2): the retired ones, plus the whole
   * window when state(nowMs) is asked for with a clock (the successor's playlist drops them).
   */
  retired: RetiredSegment[];
}

/**
 * Constructor state. `nextSequence` wins over `mediaSequence` (both name the first sequence number
 * this segmenter will use), so `state()` of a predecessor can be passed as is.
 */
export interface HlsSegmenterInit {
  mediaSequence?: number;
  nextSequence?: number;
  discontinuitySequence: number;
  /** The first segment gets EXT-X-DISCONTINUITY (e.g. a republish). */
  discontinuityNext?: boolean;
  /** Segments of a predecessor that must stay available. */
  retired?: readonly RetiredSegment[];
}

const START_CODE = Buffer.from([0, 0, 0, 1]);
/** H.264 access unit delimiter, primary_pic_type 7 (any slice type). */
const AUD_H264 = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);
/** HEVC access unit delimiter (nal_unit_type 35), pic_type 2 (any). */
const AUD_HEVC = Buffer.from([0, 0, 0, 1, 0x46, 0x01, 0x50]);
const HEVC_NAL_SPS = 33;
const HEVC_NAL_PPS = 34;
const HEVC_NAL_AUD = 35;

/** A backwards step of more than this on the driving track is a new timeline. */
const BACKWARD_JUMP_MS = 500;
/** A segment's wall-clock start follows on from the previous one unless arrival differs more. */
const PDT_RESYNC_MS = 1000;
const DEFAULT_VIDEO_FRAME_MS = 1000 / 30;
const DEFAULT_AUDIO_FRAME_MS = 1024 / 44.1;

interface VideoConfig {
  codec: 'h264' | 'hevc';
  nalLengthSize: number;
  /** Start-coded parameter sets (VPS,) SPS, PPS, written before every keyframe. */
  parameterSets: Buffer[];
  raw: Buffer;
}

interface AudioConfig {
  codec: 'aac' | 'mp3';
  asc?: AudioSpecificConfig;
  sampleRateHz: number;
  /** Comparison key: a different key is a codec parameter change. */
  key: string;
}

interface OpenSegment {
  firstDts: number;
  programDateTime: number;
  discontinuity: boolean;
  hasKeyframeStart: boolean;
  hasVideo: boolean;
  hasAudio: boolean;
  /** PMT tracks, to flag a discontinuity when the next segment's differ. */
  tracksKey: string;
  videoFrames: number;
  audioFrames: number;
  firstVideoDts: number;
  lastVideoDts: number;
  firstAudioDts: number;
  lastAudioDts: number;
  /** No more frames go in; the segment is emitted when the next one starts (or at end()). */
  sealed: boolean;
}

interface TrackClock {
  last: number | undefined;
  delta: number;
}

export class HlsSegmenter {
  private readonly options: HlsSegmenterOptions;
  private readonly muxer: TsMuxer;
  private video: VideoConfig | undefined;
  private audio: AudioConfig | undefined;
  private open: OpenSegment | undefined;
  private readonly window: HlsSegment[] = [];
  private windowBytes = 0;
  /** Out of the window, still available (RFC 8216 6.2.2); oldest first. */
  private retired: RetiredSegment[] = [];
  private retiredBytes = 0;
  /** The longest the window (one playlist) has lasted, in ms: the 6.2.2 retention term. */
  private longestPlaylistMs = 0;
  private nextSequence: number;
  private discSequence: number;
  private discontinuityNext: boolean;
  private isEnded = false;
  /** Tracks of the last emitted segment, to flag a discontinuity when they change. */
  private lastTracksKey: string | undefined;
  /**
   * Tags (with their arrival time) since the open segment started, kept only while that segment is
   * the first since the start or the last discontinuity: when a track turns up late (audio config
   * after the first keyframe, MP3 known only from its first frame, video config after audio), the
   * unpublished segment is rebuilt with every track instead of being lost.
   */
  private replayLog: { tag: MediaTag; nowMs: number }[] | undefined;
  private replaying = false;
  /** End (DTS and wall clock) of the last emitted segment, for a continuous PROGRAM-DATE-TIME. */
  private lastEmitted: { endDts: number; endWallMs: number } | undefined;
  /** Segments this segmenter has emitted. */
  private emitted = 0;
  /** Applied to each closed segment's bytes once (e.g. AES-128 encryption), before it is kept. */
  private readonly sealData: ((data: Buffer, sequence: number) => Buffer) | undefined;
  private readonly videoClock: TrackClock = { last: undefined, delta: DEFAULT_VIDEO_FRAME_MS };
  private readonly audioClock: TrackClock = { last: undefined, delta: DEFAULT_AUDIO_FRAME_MS };

  constructor(
    options?: Partial<HlsSegmenterOptions>,
    state?: HlsSegmenterInit,
    muxerOptions?: TsMuxerOptions,
    seal?: (data: Buffer, sequence: number) => Buffer,
  ) {
    this.sealData = seal;
    const o = { ...DEFAULT_HLS_SEGMENTER_OPTIONS };
    for (const [k, v] of Object.entries(options ?? {}))
      if (typeof v === 'number' && Number.isFinite(v)) o[k as keyof HlsSegmenterOptions] = v;
    o.targetDurationMs = Math.max(1, o.targetDurationMs);
    o.windowSegments = Math.max(1, Math.floor(o.windowSegments));
    o.maxSegmentDurationMs = Math.max(o.maxSegmentDurationMs, o.targetDurationMs);
    this.options = o;
    this.muxer = new TsMuxer(muxerOptions);
    this.nextSequence = Math.max(0, Math.floor(state?.nextSequence ?? state?.mediaSequence ?? 0));
    this.discSequence = Math.max(0, Math.floor(state?.discontinuitySequence ?? 0));
    this.discontinuityNext = state?.discontinuityNext ?? false;
    for (const r of state?.retired ?? []) this.retire(r);
  }

  /** EXT-X-TARGETDURATION, constant for this segmenter (see targetDurationSecondsFor). */
  get targetDurationSeconds(): number {
    return targetDurationSecondsFor(this.options.maxSegmentDurationMs);
  }

  /** The sliding window, oldest first. */
  get segments(): readonly HlsSegment[] {
    return this.window;
  }

  /** Sequence of segments[0] (the next sequence while the window is empty). */
  get mediaSequence(): number {
    return this.window[0]?.sequence ?? this.nextSequence;
  }

  get discontinuitySequence(): number {
    return this.discSequence;
  }

  get ended(): boolean {
    return this.isEnded;
  }

  get windowByteLength(): number {
    return this.windowBytes;
  }

  /**
   * With `nowMs`, the successor takes over this window as retired segments (its playlist starts
   * empty, so they have just been removed from the playlist).
   */
  state(nowMs?: number): HlsSegmenterState {
    let disc = this.discSequence;
    for (const s of this.window) if (s.discontinuity) disc++;
    const retired = [...this.retired];
    if (nowMs !== undefined)
      for (const segment of this.window)
        retired.push({ segment, availableUntilMs: nowMs + segment.durationMs + this.longestPlaylistMs });
    return {
      mediaSequence: this.mediaSequence,
      discontinuitySequence: disc,
      nextSequence: this.nextSequence,
      discontinuityNext: this.discontinuityNext || (this.open?.discontinuity ?? false),
      retired,
    };
  }

  /**
   * A segment in the window, or one that left it and is still within its retention (RFC 8216
   * 6.2.2) at `nowMs`.
   */
  getSegment(sequence: number, nowMs: number): HlsSegment | undefined {
    if (!Number.isInteger(sequence)) return undefined;
    const first = this.window[0];
    if (first && sequence >= first.sequence) return this.window[sequence - first.sequence];
    const r = this.retired.find((x) => x.segment.sequence === sequence);
    return r && nowMs <= r.availableUntilMs ? r.segment : undefined;
  }

  /** Retired segments still available at `nowMs`, oldest first (window excluded). */
  retiredSegments(nowMs: number): HlsSegment[] {
    this.pruneRetired(nowMs);
    return this.retired.map((r) => r.segment);
  }

  /**
   * The publisher restarted (or its codec parameters changed): the open segment takes no more
   * frames, the next segment starts with EXT-X-DISCONTINUITY, and sequence headers must come again
   * (the stored ones belonged to the old publisher). No-op once ended.
   */
  markDiscontinuity(): void {
    if (this.isEnded) return;
    this.seal();
    this.video = undefined;
    this.audio = undefined;
    this.videoClock.last = undefined;
    this.audioClock.last = undefined;
  }

  push(tag: MediaTag, nowMs: number): HlsSegment | undefined {
    if (this.isEnded) return undefined;
    let closed: HlsSegment | undefined;
    try {
      if (tag.type === TAG_VIDEO) closed = this.onVideo(tag, nowMs);
      else if (tag.type === TAG_AUDIO) closed = this.onAudio(tag, nowMs);
      else return undefined; // script data (onMetaData) is not packaged
    } catch (err) {
      // A damaged tag is dropped; it must not stop the packager.
      if (!(err instanceof MediaError)) throw err;
    }
    this.replayLog?.push({ tag, nowMs });
    return closed;
  }

  /** The stream ended: emits the open segment (if it has frames); the playlist gets ENDLIST. */
  end(nowMs: number): HlsSegment | undefined {
    if (this.isEnded) return undefined;
    this.isEnded = true;
    const open = this.open;
    if (!open || open.videoFrames + open.audioFrames === 0) {
      this.open = undefined;
      return undefined;
    }
    return this.close(this.estimatedEnd(open), true, nowMs);
  }

  // ---- video ----

  private onVideo(tag: MediaTag, nowMs: number): HlsSegment | undefined {
    const info = parseVideoTag(tag.data);
    if (info.frameType === 5) return undefined; // video info/command frame
    if (info.codec !== 'avc' && info.codec !== 'hevc') return undefined; // not packaged into TS
    if (info.packetType === 'sequence-header') {
      this.onVideoConfig(info.codec, tag.data.subarray(info.payloadOffset));
      return undefined;
    }
    if (info.packetType !== 'coded-frames') return undefined;
    const cfg = this.video;
    if (!cfg || (cfg.codec === 'h264') !== (info.codec === 'avc')) return undefined;

    const dts = tag.timestamp;
    const pts = dts + info.compositionTimeMs;
    const au = this.accessUnit(cfg, tag.data, info.payloadOffset, info.isKeyframe); // may throw: nothing changed yet
    if (!au) return undefined;
    const isKey = au.isKey;

    this.checkJump(this.videoClock, dts);
    let closed: HlsSegment | undefined;
    let open = this.open;
    if (isKey) {
      if (open && (open.sealed || !open.hasVideo)) closed = this.close(this.estimatedEnd(open), true, nowMs);
      else if (open && dts - open.firstDts >= this.options.targetDurationMs)
        closed = this.close(dts, false, nowMs);
      else if (open && this.runaway(open, dts)) closed = this.close(dts, false, nowMs);
      // The segment was cut mid-GOP at the hard maximum: realign on this keyframe.
      else if (open && !open.hasKeyframeStart && open.videoFrames + open.audioFrames > 0)
        closed = this.close(dts, false, nowMs);
      open = this.open ?? this.start(dts, nowMs, true);
    } else {
      if (!open || open.sealed || !open.hasVideo) {
        this.tick(this.videoClock, dts);
        return undefined; // waiting for a keyframe
      }
      if (this.runaway(open, dts)) {
        closed = this.close(dts, false, nowMs);
        open = this.start(dts, nowMs, false);
      }
    }
    this.muxer.writeVideo(au.parts, pts, dts, isKey);
    if (open.videoFrames === 0) open.firstVideoDts = dts;
    open.videoFrames++;
    open.lastVideoDts = dts;
    this.tick(this.videoClock, dts);
    return closed;
  }

  private onVideoConfig(codec: 'avc' | 'hevc', record: Buffer): void {
    let cfg: VideoConfig;
    if (codec === 'avc') {
      const c = parseAvcDecoderConfig(record);
      cfg = {
        codec: 'h264',
        nalLengthSize: c.nalLengthSize,
        parameterSets: startCoded([...c.sps, ...c.pps]),
        raw: Buffer.from(record),
      };
    } else {
      const c = parseHevcDecoderConfig(record);
      cfg = {
        codec: 'hevc',
        nalLengthSize: c.nalLengthSize,
        parameterSets: startCoded([...c.vps, ...c.sps, ...c.pps]),
        raw: Buffer.from(record),
      };
    }
    const prev = this.video;
    this.video = cfg;
    if (prev) {
      if (prev.codec !== cfg.codec || !prev.raw.equals(cfg.raw)) this.seal();
      return;
    }
    // Video appears while a segment without it is open (audio came first, or a late video track).
    const open = this.open;
    if (open && !open.hasVideo) this.rebuildOrSealOpen();
  }

  /** Builds the Annex B access unit: AUD, parameter sets before keyframes, the frame's NAL units. */
  private accessUnit(
    cfg: VideoConfig,
    data: Buffer,
    offset: number,
    flvKey: boolean,
  ): { parts: Buffer[]; isKey: boolean } | undefined {
    const nals = avccToAnnexB(data, offset, cfg.nalLengthSize);
    if (nals.length === 0) return undefined;
    const h264 = cfg.codec === 'h264';
    let idr = false;
    let hasSps = false;
    let hasPps = false;
    for (const nal of nals) {
      const t = h264 ? nal[0]! & 0x1f : (nal[0]! >> 1) & 0x3f;
      if (h264 ? t === NAL_IDR : t >= 16 && t <= 23) idr = true;
      else if (h264 ? t === NAL_SPS : t === HEVC_NAL_SPS) hasSps = true;
      else if (h264 ? t === NAL_PPS : t === HEVC_NAL_PPS) hasPps = true;
    }
    const isKey = flvKey || idr;
    const parts: Buffer[] = [h264 ? AUD_H264 : AUD_HEVC];
    // In-band parameter sets in the frame win; otherwise repeat the configuration record's.
    if (isKey && !(hasSps && hasPps)) parts.push(...cfg.parameterSets);
    for (const nal of nals) {
      const t = h264 ? nal[0]! & 0x1f : (nal[0]! >> 1) & 0x3f;
      if (t === (h264 ? NAL_AUD : HEVC_NAL_AUD)) continue; // ours goes first
      parts.push(START_CODE, nal);
    }
    return { parts, isKey };
  }

  // ---- audio ----

  private onAudio(tag: MediaTag, nowMs: number): HlsSegment | undefined {
    const info = parseAudioTag(tag.data);
    if (info.codec !== 'aac' && info.codec !== 'mp3') return undefined;
    const b0 = tag.data[0]!;
    const enhanced = info.soundFormat === 9;
    // Enhanced RTMP AudioPacketType: 0 SequenceStart, 1 CodedFrames; others are not audio frames.
    if (enhanced && (b0 & 0x0f) > 1) return undefined;
    const payload = tag.data.subarray(info.payloadOffset);
    let frame: Buffer[];
    if (info.codec === 'aac') {
      if (!enhanced && tag.data[1] !== 0 && tag.data[1] !== 1) return undefined;
      if (info.isSequenceHeader) {
        const asc = parseAudioSpecificConfig(payload);
        this.onAudioConfig({
          codec: 'aac',
          asc,
          sampleRateHz: asc.sampleRateHz,
          key: `aac/${asc.audioObjectType}/${asc.samplingFrequencyIndex}/${asc.sampleRateHz}/${asc.channelConfiguration}`,
        });
        return undefined;
      }
      const asc = this.audio?.codec === 'aac' ? this.audio.asc : undefined;
      if (!asc || payload.length === 0) return undefined;
      frame = [adtsHeader(asc, payload.length), payload];
    } else {
      if (info.isSequenceHeader || payload.length === 0) return undefined;
      const h = parseMp3FrameHeader(payload);
      this.onAudioConfig({ codec: 'mp3', sampleRateHz: h.sampleRateHz, key: `mp3/${h.sampleRateHz}` });
      frame = [payload];
    }
    if (!this.audio) return undefined;

    const dts = tag.timestamp;
    let closed: HlsSegment | undefined;
    let open = this.open;
    if (!this.video) {
      // Audio-only: cut on time, at this frame.
      this.checkJump(this.audioClock, dts);
      if (open && (open.sealed || !open.hasAudio || open.hasVideo))
        closed = this.close(this.estimatedEnd(open), true, nowMs);
      else if (open && dts - open.firstDts >= this.options.targetDurationMs)
        closed = this.close(dts, false, nowMs);
      open = this.open ?? this.start(dts, nowMs, true);
    } else {
      if (!open || open.sealed || !open.hasAudio) {
        this.tick(this.audioClock, dts);
        return undefined; // before the first keyframe, or a track the open segment's PMT lacks
      }
      if (this.runaway(open, dts)) {
        // Video stalled (no keyframe for too long) while audio goes on.
        closed = this.close(dts, false, nowMs);
        open = this.start(dts, nowMs, false);
      }
    }
    this.muxer.writeAudio(frame, dts);
    if (open.audioFrames === 0) open.firstAudioDts = dts;
    open.audioFrames++;
    open.lastAudioDts = dts;
    this.tick(this.audioClock, dts);
    return closed;
  }

  private onAudioConfig(cfg: AudioConfig): void {
    const prev = this.audio;
    if (prev?.key === cfg.key) return;
    this.audio = cfg;
    if (prev) {
      this.seal();
      return;
    }
    const open = this.open;
    if (open && !open.hasAudio && this.video) this.rebuildOrSealOpen();
  }

  // ---- segments ----

  /**
   * A track appeared while a segment without it is open. If that segment is the first since the
   * start or the last discontinuity, nothing has been published from it: rebuild it from its tags
   * with every track (frames the new PMT cannot start with, like audio before the first keyframe,
   * drop out). Otherwise seal it; the next segment (with the new PMT) is a discontinuity.
   */
  private rebuildOrSealOpen(): void {
    const open = this.open;
    if (!open) return;
    const log = this.replayLog;
    if (open.sealed || !log || this.replaying) {
      this.seal();
      return;
    }
    // Not published yet: rebuild it from its tags with the tracks now known.
    this.muxer.discard();
    this.open = undefined;
    this.replayLog = undefined;
    if (open.discontinuity) this.discontinuityNext = true;
    this.replaying = true;
    try {
      for (const e of log) this.push(e.tag, e.nowMs);
    } finally {
      this.replaying = false;
    }
  }

  /** Stops the open segment taking frames; the next segment starts as a discontinuity. */
  private seal(): void {
    if (this.open) this.open.sealed = true;
    this.replayLog = undefined;
    this.discontinuityNext = true;
  }

  private runaway(open: OpenSegment, dts: number): boolean {
    return (
      dts - open.firstDts >= this.options.maxSegmentDurationMs ||
      this.muxer.bufferedBytes >= this.options.maxWindowBytes
    );
  }

  /** A large jump on the driving track's timeline (back, or forward past the hard cut) is a discontinuity. */
  private checkJump(clock: TrackClock, dts: number): void {
    const last = clock.last;
    if (last === undefined || !this.open || this.open.sealed) return;
    if (dts < last - BACKWARD_JUMP_MS || dts > last + this.options.maxSegmentDurationMs) this.seal();
  }

  private tick(clock: TrackClock, dts: number): void {
    if (clock.last !== undefined) {
      const d = dts - clock.last;
      if (d > 0 && d < 1000) clock.delta = d;
    }
    clock.last = dts;
  }

  /** One frame after the last frame of the segment's driving track (average frame duration). */
  private estimatedEnd(open: OpenSegment): number {
    const frame = (n: number, first: number, last: number, fallback: number) =>
      n > 1 && last > first ? (last - first) / (n - 1) : fallback;
    if (open.videoFrames > 0)
      return (
        open.lastVideoDts +
        frame(open.videoFrames, open.firstVideoDts, open.lastVideoDts, this.videoClock.delta)
      );
    if (open.audioFrames > 0)
      return (
        open.lastAudioDts +
        frame(open.audioFrames, open.firstAudioDts, open.lastAudioDts, this.audioClock.delta)
      );
    return open.firstDts;
  }

  private start(dts: number, nowMs: number, randomAccess: boolean): OpenSegment {
    const tracks = {
      ...(this.video ? { video: this.video.codec } : {}),
      ...(this.audio ? { audio: this.audio.codec, audioSampleRateHz: this.audio.sampleRateHz } : {}),
    };
    const key = `${tracks.video ?? ''}/${tracks.audio ?? ''}`;
    let discontinuity = this.discontinuityNext;
    if (this.lastTracksKey !== undefined && key !== this.lastTracksKey) discontinuity = true;
    this.muxer.setTracks(tracks);
    this.muxer.writeTables();
    // PROGRAM-DATE-TIME follows on from the previous segment while the timeline is continuous and
    // the arrival clock agrees, so it stays consistent with the EXTINF durations.
    let programDateTime = nowMs;
    const prev = this.lastEmitted;
    if (!discontinuity && prev && dts === prev.endDts) {
      const expected = prev.endWallMs;
      if (Math.abs(expected - nowMs) <= PDT_RESYNC_MS) programDateTime = expected;
    }
    const open: OpenSegment = {
      firstDts: dts,
      programDateTime,
      discontinuity,
      hasKeyframeStart: randomAccess,
      hasVideo: tracks.video !== undefined,
      hasAudio: tracks.audio !== undefined,
      tracksKey: key,
      videoFrames: 0,
      audioFrames: 0,
      firstVideoDts: dts,
      lastVideoDts: dts,
      firstAudioDts: dts,
      lastAudioDts: dts,
      sealed: false,
    };
    this.open = open;
    this.discontinuityNext = false;
    this.replayLog = discontinuity || this.emitted === 0 ? [] : undefined;
    return open;
  }

  /** Closes the open segment at `endDts` (the next segment's first DTS, or an estimate). */
  private close(endDts: number, estimated: boolean, nowMs: number): HlsSegment | undefined {
    const open = this.open;
    this.open = undefined;
    this.replayLog = undefined;
    if (!open) return undefined;
    if (open.videoFrames + open.audioFrames === 0) {
      this.muxer.discard();
      if (open.discontinuity) this.discontinuityNext = true;
      return undefined;
    }
    const flushed = this.muxer.flush();
    const data = this.sealData ? this.sealData(flushed, this.nextSequence) : flushed;
    const durationMs = Math.max(1, Math.round(endDts - open.firstDts));
    const seg: HlsSegment = {
      sequence: this.nextSequence++,
      durationMs,
      data,
      discontinuity: open.discontinuity,
      programDateTime: open.programDateTime,
      hasKeyframeStart: open.hasKeyframeStart,
      byteLength: data.length,
    };
    this.lastEmitted = estimated
      ? undefined
      : { endDts: open.firstDts + durationMs, endWallMs: open.programDateTime + durationMs };
    this.emitted++;
    this.lastTracksKey = open.tracksKey;
    this.window.push(seg);
    this.windowBytes += seg.byteLength;
    while (
      this.window.length > this.options.windowSegments ||
      (this.window.length > 1 && this.windowBytes > this.options.maxWindowBytes)
    ) {
      const old = this.window.shift()!;
      this.windowBytes -= old.byteLength;
      if (old.discontinuity) this.discSequence++;
      // RFC 8216 6.2.2: available for its duration plus the longest playlist that listed it.
      this.retire({ segment: old, availableUntilMs: nowMs + old.durationMs + this.longestPlaylistMs });
    }
    // The playlist served from now on lists exactly the window (earlier ones already counted).
    let playlistMs = 0;
    for (const s of this.window) playlistMs += s.durationMs;
    this.longestPlaylistMs = Math.max(this.longestPlaylistMs, playlistMs);
    this.pruneRetired(nowMs);
    return seg;
  }

  private retire(r: RetiredSegment): void {
    this.retired.push(r);
    this.retiredBytes += r.segment.byteLength;
  }

  /**
   * Forgets retired segments past their retention, and the oldest ones while retained bytes pass
   * maxWindowBytes (memory stays bounded at twice the window's bound, even for huge segments).
   */
  private pruneRetired(nowMs: number): void {
    while (this.retired.length > 0) {
      const oldest = this.retired[0]!;
      if (nowMs <= oldest.availableUntilMs && this.retiredBytes <= this.options.maxWindowBytes) break;
      this.retired.shift();
      this.retiredBytes -= oldest.segment.byteLength;
    }
  }
}

function startCoded(nals: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const n of nals) if (n.length > 0) out.push(START_CODE, n);
  return out;
}
