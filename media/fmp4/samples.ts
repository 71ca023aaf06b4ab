/**
 * FLV-level tags in, fMP4 samples out: track configurations from the sequence headers and, per
 * frame, a sample with its decode time, duration and sync flag on one continuous output timeline.
 *
 * - Video uses a 90 kHz timescale; a frame's duration is known when the next frame arrives, so
 *   video samples come out one frame late (the last one is estimated on flush()).
 * - Audio uses the sample rate as timescale and counts samples (1024 per AAC frame, 1152 per MP3
 *   frame), so durations are exact; the count re-anchors on the tag timestamps when they drift
 *   apart by more than AUDIO_RESYNC_MS.
 * - The output timeline never goes back: after markDiscontinuity() (a republish), a codec change or
 *   a timestamp jump, the next samples start where the previous ones ended (tfdt continuity).
 * - Video frames before the first sync sample of a (re)start are dropped, and so is audio that
 *   comes before it (a fragment must be decodable from its start).
 *
 * Damaged tags (MediaError from the parsers) are dropped by the caller's push().
 */
import { parseAudioSpecificConfig } from '../codec/aac.ts';
import { parseAvcDecoderConfig, parseSps } from '../codec/avc.ts';
import { parseHevcDecoderConfig, parseHevcSpsSize } from '../codec/hevc.ts';
import { parseMp3FrameHeader } from '../codec/mp3.ts';
import { MediaError } from '../errors.ts';
import { parseAudioTag } from '../flv/audio.ts';
import { parseVideoTag } from '../flv/video.ts';
import { type MediaTag, TAG_AUDIO, TAG_VIDEO } from '../tag.ts';
import type { Fmp4Sample } from './fragment.ts';
import type { Fmp4AudioTrack, Fmp4VideoTrack } from './init.ts';

export const VIDEO_TIMESCALE = 90_000;
export const VIDEO_TRACK_ID = 1;
export const AUDIO_TRACK_ID = 2;
/** A backwards step larger than this, or a forward one larger than FORWARD_JUMP_MS, is a new timeline. */
const BACKWARD_JUMP_MS = 500;
const FORWARD_JUMP_MS = 10_000;
const AUDIO_RESYNC_MS = 100;

export interface TimedSample extends Fmp4Sample {
  track: 'video' | 'audio';
  /** Decode time in the track's timescale (tfdt of a run that starts here). */
  decodeTime: number;
  /** Decode time on the output timeline, in ms. */
  timeMs: number;
  /** Duration in ms. */
  durationMs: number;
}

export interface SampleSink {
  sample(s: TimedSample): void;
  /**
   * The tracks changed (first configuration, a new codec configuration, a track appearing) or
   * the timeline restarted: what follows needs a new init segment and/or a discontinuity. Called
   * after every sample of the old configuration was delivered.
   */
  discontinuity(tracksChanged: boolean): void;
}

interface HeldVideo {
  data: Buffer;
  inMs: number;
  ctsMs: number;
  sync: boolean;
}

export class Fmp4Samples {
  private readonly sink: SampleSink;
  video: Fmp4VideoTrack | undefined;
  audio: Fmp4AudioTrack | undefined;
  /** Increments when `video`/`audio` change: a new init segment. */
  tracksVersion = 0;
  private held: HeldVideo | undefined;
  private lastVideoDurationMs = 1000 / 30;
  /** outMs = inMs + offsetMs; undefined: re-anchor on the next sample. */
  private offsetMs: number | undefined = 0;
  private anchored = false;
  /** End of everything emitted so far on the output timeline, per track (ms). */
  private videoEndMs = 0;
  private audioEndMs = 0;
  /** Next audio decode time in samples (timescale = rate). */
  private audioNext: number | undefined;
  private lastInVideoMs: number | undefined;
  private lastInAudioMs: number | undefined;
  /** Waiting for a sync video sample before emitting anything (video streams). */
  private needSync = true;

  constructor(sink: SampleSink) {
    this.sink = sink;
  }

  push(tag: MediaTag): void {
    if (tag.type === TAG_VIDEO) this.onVideo(tag);
    else if (tag.type === TAG_AUDIO) this.onAudio(tag);
  }

  /** The publisher changed: the next samples continue the timeline from its end. */
  markDiscontinuity(): void {
    this.flush();
    this.restartTimeline();
    this.sink.discontinuity(false);
  }

  /** Emits the held video frame (its duration estimated from the previous one). */
  flush(): void {
    const h = this.held;
    if (!h) return;
    this.held = undefined;
    this.emitVideo(h, this.lastVideoDurationMs);
  }

  private restartTimeline(): void {
    this.offsetMs = undefined;
    this.audioNext = undefined;
    this.lastInVideoMs = undefined;
    this.lastInAudioMs = undefined;
    this.needSync = this.video !== undefined;
  }

  private outMs(inMs: number): number {
    if (this.offsetMs === undefined) {
      // Continue where the previous timeline ended (the first one starts at its own timestamps).
      this.offsetMs = this.anchored ? Math.max(this.videoEndMs, this.audioEndMs) - inMs : 0;
    }
    this.anchored = true;
    return inMs + this.offsetMs;
  }

  private jumped(last: number | undefined, inMs: number): boolean {
    return last !== undefined && (inMs < last - BACKWARD_JUMP_MS || inMs > last + FORWARD_JUMP_MS);
  }

  // ---- video ----

  private onVideo(tag: MediaTag): void {
    const info = parseVideoTag(tag.data);
    if (info.frameType === 5 || (info.codec !== 'avc' && info.codec !== 'hevc')) return;
    if (info.packetType === 'sequence-header') {
      this.onVideoConfig(info.codec, tag.data.subarray(info.payloadOffset));
      return;
    }
    if (info.packetType !== 'coded-frames') return;
    const cfg = this.video;
    if (!cfg || cfg.codec !== info.codec) return;
    const data = tag.data.subarray(info.payloadOffset);
    if (data.length === 0) return;
    if (this.jumped(this.lastInVideoMs, tag.timestamp)) {
      this.flush();
      this.restartTimeline();
      this.sink.discontinuity(false);
    }
    const sync = info.isKeyframe;
    if (this.needSync && !sync) return;
    this.needSync = false;
    this.lastInVideoMs = tag.timestamp;
    const frame: HeldVideo = { data, inMs: tag.timestamp, ctsMs: info.compositionTimeMs, sync };
    const prev = this.held;
    this.held = frame;
    if (prev) {
      const d = frame.inMs - prev.inMs;
      const durationMs = d > 0 && d < 1000 ? d : this.lastVideoDurationMs;
      if (d > 0 && d < 1000) this.lastVideoDurationMs = d;
      this.emitVideo(prev, durationMs);
    }
  }

  private emitVideo(h: HeldVideo, durationMs: number): void {
    const timeMs = Math.max(this.outMs(h.inMs), this.videoEndMs);
    const decodeTime = Math.round(timeMs * 90);
    const end = Math.round((timeMs + durationMs) * 90);
    this.videoEndMs = timeMs + durationMs;
    this.sink.sample({
      track: 'video',
      data: h.data,
      duration: Math.max(1, end - decodeTime),
      compositionOffset: Math.round(h.ctsMs * 90),
      sync: h.sync,
      decodeTime,
      timeMs,
      durationMs,
    });
  }

  private onVideoConfig(codec: 'avc' | 'hevc', record: Buffer): void {
    let width = 0;
    let height = 0;
    if (codec === 'avc') {
      const c = parseAvcDecoderConfig(record);
      if (c.sps[0]) ({ width, height } = parseSps(c.sps[0]));
    } else {
      const c = parseHevcDecoderConfig(record);
      if (c.sps[0]) ({ width, height } = parseHevcSpsSize(c.sps[0]));
    }
    const prev = this.video;
    if (prev && prev.codec === codec && prev.record.equals(record)) return;
    this.video = {
      kind: 'video',
      trackId: VIDEO_TRACK_ID,
      codec,
      timescale: VIDEO_TIMESCALE,
      width,
      height,
      record: Buffer.from(record),
    };
    this.tracksChanged();
  }

  // ---- audio ----

  private onAudio(tag: MediaTag): void {
    const info = parseAudioTag(tag.data);
    if (info.codec !== 'aac' && info.codec !== 'mp3') return;
    const enhanced = info.soundFormat === 9;
    if (enhanced && (tag.data[0]! & 0x0f) > 1) return; // not SequenceStart / CodedFrames
    const payload = tag.data.subarray(info.payloadOffset);
    if (payload.length === 0) return;
    let frameSamples: number;
    if (info.codec === 'aac') {
      if (info.isSequenceHeader) {
        const asc = parseAudioSpecificConfig(payload);
        const prev = this.audio;
        if (prev?.codec === 'aac' && prev.asc?.equals(payload)) return;
        this.audio = {
          kind: 'audio',
          trackId: AUDIO_TRACK_ID,
          codec: 'aac',
          timescale: asc.sampleRateHz,
          sampleRateHz: asc.sampleRateHz,
          channels: asc.channelConfiguration || 2,
          asc: Buffer.from(payload),
        };
        this.tracksChanged();
        return;
      }
      if (this.audio?.codec !== 'aac') return;
      frameSamples = 1024;
    } else {
      const h = parseMp3FrameHeader(payload);
      const prev = this.audio;
      if (prev?.codec !== 'mp3' || prev.sampleRateHz !== h.sampleRateHz) {
        this.audio = {
          kind: 'audio',
          trackId: AUDIO_TRACK_ID,
          codec: 'mp3',
          timescale: h.sampleRateHz,
          sampleRateHz: h.sampleRateHz,
          channels: h.channels,
        };
        this.tracksChanged();
      }
      frameSamples = h.samplesPerFrame;
    }
    const cfg = this.audio!;
    if (this.needSync && this.video) return; // nothing before the first video keyframe
    if (!this.video && this.jumped(this.lastInAudioMs, tag.timestamp)) {
      this.restartTimeline();
      this.sink.discontinuity(false);
    }
    this.lastInAudioMs = tag.timestamp;
    const rate = cfg.timescale;
    const fromTag = Math.round((this.outMs(tag.timestamp) * rate) / 1000);
    let decodeTime = this.audioNext ?? fromTag;
    if (Math.abs(decodeTime - fromTag) > (AUDIO_RESYNC_MS * rate) / 1000) decodeTime = fromTag;
    // Never overlap what was already emitted.
    decodeTime = Math.max(decodeTime, Math.round((this.audioEndMs * rate) / 1000));
    this.audioNext = decodeTime + frameSamples;
    const timeMs = (decodeTime * 1000) / rate;
    const durationMs = (frameSamples * 1000) / rate;
    this.audioEndMs = timeMs + durationMs;
    this.sink.sample({
      track: 'audio',
      data: payload,
      duration: frameSamples,
      compositionOffset: 0,
      sync: true,
      decodeTime,
      timeMs,
      durationMs,
    });
  }

  private tracksChanged(): void {
    this.flush();
    this.tracksVersion++;
    this.restartTimeline();
    this.sink.discontinuity(true);
  }
}

/** Push that drops a damaged tag (MediaError) instead of stopping the packager. */
export function pushTag(samples: Fmp4Samples, tag: MediaTag): void {
  try {
    samples.push(tag);
  } catch (err) {
    if (!(err instanceof MediaError)) throw err;
  }
}
