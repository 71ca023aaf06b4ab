/**
 * Low-Latency HLS segmenter (RFC 8216bis 4.4.4.9 EXT-X-PART, Apple "Enabling Low-Latency HLS"):
 * FLV-level tags in, CMAF parts and segments out, written once per stream.
 *
 * - A part is one fMP4 fragment (moof + mdat, both tracks). It closes as soon as one more frame
 *   of the driving track (video, else audio) would take it past the part target, so every part
 *   lasts at most PART-TARGET (unless one frame alone is longer). A video keyframe also starts a
 *   new part, which is then INDEPENDENT=YES.
 * - A segment is a run of parts and closes when one more full part would take it past the segment
 *   target. Segments do not wait for keyframes: with the 8 s GOP of OBS's default settings they
 *   still last ~2 s; only those that start with a keyframe are independent.
 * - Segment bytes are the parts' bytes back to back, copied together only when a player asks for
 *   the whole segment (LL-HLS players fetch parts).
 * - Codec configuration changes need a new init segment (EXT-X-MAP with a new URI) and start a new
 *   segment with EXT-X-DISCONTINUITY; so do republishes (markDiscontinuity()). The fMP4 timeline
 *   (tfdt) keeps rising across all of them (media/fmp4/samples.ts).
 * - Out of the window, a segment (and its parts) stays retrievable for as many segments again
 *   (RFC 8216 6.2.2: its duration plus the playlist's).
 *
 * Damaged input never throws: a tag the codec parsers reject is dropped.
 */
import { writeFragment } from '../fmp4/fragment.ts';
import { type Fmp4Track, writeInitSegment } from '../fmp4/init.ts';
import { Fmp4Samples, pushTag, type TimedSample } from '../fmp4/samples.ts';
import type { MediaTag } from '../tag.ts';

export interface LlPart {
  /** Media sequence number of the parent segment. */
  sequence: number;
  /** Index in the parent segment, from 0. */
  index: number;
  durationMs: number;
  /** Starts with a video keyframe (or is audio-only). */
  independent: boolean;
  data: Buffer;
}

export interface LlSegment {
  sequence: number;
  durationMs: number;
  parts: LlPart[];
  /**
   * The parts' bytes back to back, made on the first request for the whole segment (segmentData);
   * empty until then. LL-HLS players fetch parts, so most segments never need the copy.
   */
  data: Buffer;
  discontinuity: boolean;
  /** Wall clock (epoch ms) of the first frame. */
  programDateTime: number;
  /** Which init segment (EXT-X-MAP) its fragments need. */
  initId: number;
  independent: boolean;
}

export interface LlHlsSegmenterOptions {
  partTargetMs: number;
  segmentTargetMs: number;
  windowSegments: number;
}

export const DEFAULT_LL_HLS_OPTIONS: Readonly<LlHlsSegmenterOptions> = {
  partTargetMs: 333,
  segmentTargetMs: 2000,
  windowSegments: 6,
};

export interface LlHlsSegmenterInit {
  /** The first segment's media sequence number. */
  nextSequence: number;
}

/** Where the stream is, for blocking playlist reloads (RFC 8216bis 6.2.5.2). */
export interface LlPosition {
  /** Sequence of the segment being built (its parts so far are in the playlist). */
  openSequence: number;
  /** Parts of that segment published so far. */
  openParts: number;
  /** First sequence in the playlist. */
  firstSequence: number;
  ended: boolean;
  /** Parts of a complete segment still in the playlist window (undefined: not there). */
  partsOf(sequence: number): number | undefined;
}

/** A backwards PDT correction larger than this resynchronises on the arrival clock. */
const PDT_RESYNC_MS = 1000;

interface OpenPart {
  video: TimedSample[];
  audio: TimedSample[];
  durationMs: number;
}

export class LlHlsSegmenter {
  readonly options: LlHlsSegmenterOptions;
  private readonly samples: Fmp4Samples;
  private readonly window: LlSegment[] = [];
  private readonly retired: LlSegment[] = [];
  private open: LlSegment | undefined;
  private part: OpenPart = { video: [], audio: [], durationMs: 0 };
  private audioQueue: TimedSample[] = [];
  private nextSequence: number;
  private discSequence = 0;
  private discontinuityNext = false;
  private fragmentSequence = 1;
  private initId = 0;
  private readonly inits = new Map<number, Buffer>();
  private isEnded = false;
  private nowMs = 0;
  /** Wall clock and timeline position of the last part's end, for a continuous PROGRAM-DATE-TIME. */
  private lastEnd: { timeMs: number; wallMs: number } | undefined;
  /** Called after every new part (and segment); the packager wakes blocked requests. */
  onPart: ((part: LlPart) => void) | undefined;

  constructor(options?: Partial<LlHlsSegmenterOptions>, init?: LlHlsSegmenterInit) {
    const o = { ...DEFAULT_LL_HLS_OPTIONS };
    for (const [k, v] of Object.entries(options ?? {}))
      if (typeof v === 'number' && Number.isFinite(v) && v > 0) o[k as keyof LlHlsSegmenterOptions] = v;
    o.segmentTargetMs = Math.max(o.segmentTargetMs, o.partTargetMs);
    o.windowSegments = Math.max(2, Math.floor(o.windowSegments));
    this.options = o;
    this.nextSequence = Math.max(0, Math.floor(init?.nextSequence ?? 0));
    // Init ids count on from the first sequence number: unique across packager restarts too, so
    // an init URI never names other bytes (they are served as immutable).
    this.initId = this.nextSequence;
    this.samples = new Fmp4Samples({
      sample: (s) => this.onSample(s),
      discontinuity: (tracksChanged) => this.onDiscontinuity(tracksChanged),
    });
  }

  /** EXT-X-TARGETDURATION: segments never pass the segment target (parts never pass theirs). */
  get targetDurationSeconds(): number {
    return Math.max(1, Math.ceil(this.options.segmentTargetMs / 1000));
  }

  get ended(): boolean {
    return this.isEnded;
  }

  /** Complete segments in the window, oldest first. */
  get segments(): readonly LlSegment[] {
    return this.window;
  }

  /** The segment being built, if it has parts. */
  get openSegment(): LlSegment | undefined {
    return this.open && this.open.parts.length > 0 ? this.open : undefined;
  }

  get mediaSequence(): number {
    return this.window[0]?.sequence ?? this.open?.sequence ?? this.nextSequence;
  }

  get discontinuitySequence(): number {
    return this.discSequence;
  }

  /** The part the next EXT-X-PRELOAD-HINT names. */
  get nextPart(): { sequence: number; index: number } {
    if (this.open) return { sequence: this.open.sequence, index: this.open.parts.length };
    return { sequence: this.nextSequence, index: 0 };
  }

  position(): LlPosition {
    const next = this.nextPart;
    return {
      openSequence: next.sequence,
      openParts: next.index,
      firstSequence: this.mediaSequence,
      ended: this.isEnded,
      partsOf: (sequence) => this.findSegment(sequence)?.parts.length,
    };
  }

  init(id: number): Buffer | undefined {
    return this.inits.get(id);
  }

  /** A complete segment in the window or still retained. */
  getSegment(sequence: number): LlSegment | undefined {
    return this.findSegment(sequence) ?? this.retired.find((s) => s.sequence === sequence);
  }

  /** A complete segment's bytes (its parts back to back), built once when first asked for. */
  segmentData(sequence: number): Buffer | undefined {
    const seg = this.getSegment(sequence);
    if (!seg) return undefined;
    if (seg.data.length === 0) seg.data = Buffer.concat(seg.parts.map((p) => p.data));
    return seg.data;
  }

  getPart(sequence: number, index: number): LlPart | undefined {
    if (this.open?.sequence === sequence) return this.open.parts[index];
    return this.getSegment(sequence)?.parts[index];
  }

  private findSegment(sequence: number): LlSegment | undefined {
    const first = this.window[0];
    if (!first || sequence < first.sequence) return undefined;
    return this.window[sequence - first.sequence];
  }

  push(tag: MediaTag, nowMs: number): void {
    if (this.isEnded) return;
    this.nowMs = nowMs;
    pushTag(this.samples, tag);
  }

  /** The publisher changed: the next segment starts with EXT-X-DISCONTINUITY. */
  markDiscontinuity(nowMs: number): void {
    this.nowMs = nowMs;
    if (this.isEnded) {
      // A new publisher after the end: the playlist goes on (without ENDLIST).
      this.isEnded = false;
      this.discontinuityNext = this.window.length > 0;
      return;
    }
    this.samples.markDiscontinuity();
  }

  /** The stream ended: the open part and segment close; the playlist gets ENDLIST. */
  end(nowMs: number): void {
    if (this.isEnded) return;
    this.nowMs = nowMs;
    this.samples.flush();
    this.closePart(true);
    this.closeSegment();
    this.isEnded = true;
    this.lastEnd = undefined;
    this.samples.markDiscontinuity(); // the next publisher's timeline continues after this one
    this.discontinuityNext = this.window.length > 0;
  }

  // ---- samples to parts ----

  private onSample(s: TimedSample): void {
    const driving = this.samples.video ? 'video' : 'audio';
    if (s.track !== driving) {
      this.audioQueue.push(s);
      // Video stalled while audio goes on: do not hold audio forever.
      if (
        this.audioQueue.length > 0 &&
        s.timeMs - this.audioQueue[0]!.timeMs > this.options.segmentTargetMs
      ) {
        this.closePart(true);
        this.maybeCloseSegment();
      }
      return;
    }
    const target = this.options.partTargetMs;
    const p = this.part;
    const drivingCount = driving === 'video' ? p.video.length : p.audio.length;
    if (drivingCount > 0 && ((s.track === 'video' && s.sync) || p.durationMs + s.durationMs > target)) {
      this.closePart();
      this.maybeCloseSegment();
    }
    if (s.track === 'video') this.part.video.push(s);
    else this.part.audio.push(s);
    this.part.durationMs += s.durationMs;
    // Close now when the next frame (about as long as this one) would not fit.
    if (this.part.durationMs + s.durationMs > target) {
      this.closePart();
      this.maybeCloseSegment();
    }
  }

  private onDiscontinuity(tracksChanged: boolean): void {
    this.closePart(true);
    this.closeSegment();
    if (tracksChanged) this.initId++;
    if (this.window.length > 0 || this.retired.length > 0) this.discontinuityNext = true;
    this.lastEnd = undefined;
  }

  private tracks(): Fmp4Track[] {
    const t: Fmp4Track[] = [];
    if (this.samples.video) t.push(this.samples.video);
    if (this.samples.audio) t.push(this.samples.audio);
    return t;
  }

  /**
   * Writes the open part as a fragment with the queued audio up to its end (all of it with
   * `allAudio`: a discontinuity or a video stall) and publishes it.
   */
  private closePart(allAudio = false): void {
    const p = this.part;
    const hasVideo = p.video.length > 0;
    const endMs = hasVideo
      ? p.video[p.video.length - 1]!.timeMs + p.video[p.video.length - 1]!.durationMs
      : Infinity;
    let take = 0;
    while (take < this.audioQueue.length && this.audioQueue[take]!.timeMs < endMs) take++;
    const queued = this.audioQueue.splice(0, allAudio || !hasVideo ? this.audioQueue.length : take);
    const audio = [...p.audio, ...queued];
    this.part = { video: [], audio: [], durationMs: 0 };
    if (!hasVideo && audio.length === 0) return;
    const first = hasVideo ? p.video[0]! : audio[0]!;
    const durationMs = hasVideo ? p.durationMs : audio.reduce((n, s) => n + s.durationMs, 0);
    const video = this.samples.video;
    const audioTrack = this.samples.audio;
    const data = writeFragment(this.fragmentSequence++, [
      ...(video
        ? [
            {
              trackId: video.trackId,
              baseMediaDecodeTime: p.video[0]?.decodeTime ?? 0,
              compositionOffsets: true,
              samples: p.video,
            },
          ]
        : []),
      ...(audioTrack
        ? [
            {
              trackId: audioTrack.trackId,
              baseMediaDecodeTime: audio[0]?.decodeTime ?? 0,
              compositionOffsets: false,
              samples: audio,
            },
          ]
        : []),
    ]);
    if (!this.inits.has(this.initId)) this.inits.set(this.initId, writeInitSegment(this.tracks()));
    let seg = this.open;
    if (!seg) {
      seg = {
        sequence: this.nextSequence++,
        durationMs: 0,
        parts: [],
        data: Buffer.alloc(0),
        discontinuity: this.discontinuityNext,
        programDateTime: this.programDateTime(first.timeMs, durationMs),
        initId: this.initId,
        independent: hasVideo ? first.sync : !this.samples.video,
      };
      this.discontinuityNext = false;
      this.open = seg;
    }
    const part: LlPart = {
      sequence: seg.sequence,
      index: seg.parts.length,
      durationMs,
      independent: hasVideo ? first.sync : !this.samples.video,
      data,
    };
    seg.parts.push(part);
    seg.durationMs += durationMs;
    this.lastEnd = {
      timeMs: first.timeMs + durationMs,
      wallMs: seg.programDateTime + seg.durationMs,
    };
    this.onPart?.(part);
  }

  /**
   * PROGRAM-DATE-TIME of a segment whose first part (of `partMs`) closes now: the frame that closed
   * it arrived now and sits at the part's end, so the first frame arrived `partMs` earlier. It
   * follows on from the previous segment while the timeline is continuous and the clocks agree.
   */
  private programDateTime(timeMs: number, partMs: number): number {
    const arrived = this.nowMs - partMs;
    const prev = this.lastEnd;
    if (prev && Math.abs(timeMs - prev.timeMs) < 1 && Math.abs(prev.wallMs - arrived) <= PDT_RESYNC_MS)
      return prev.wallMs;
    return arrived;
  }

  private maybeCloseSegment(): void {
    const seg = this.open;
    if (seg && seg.durationMs + this.options.partTargetMs > this.options.segmentTargetMs) this.closeSegment();
  }

  private closeSegment(): void {
    const seg = this.open;
    this.open = undefined;
    if (!seg || seg.parts.length === 0) return;
    this.window.push(seg);
    while (this.window.length > this.options.windowSegments) {
      const old = this.window.shift()!;
      if (old.discontinuity) this.discSequence++;
      this.retired.push(old);
    }
    while (this.retired.length > this.options.windowSegments) this.retired.shift();
    // Init segments nobody can reach anymore.
    const used = new Set<number>([this.initId]);
    for (const s of [...this.retired, ...this.window]) used.add(s.initId);
    for (const id of this.inits.keys()) if (!used.has(id)) this.inits.delete(id);
  }
}
