/**
 * One stream's media as WebRTC wants it, made once and shared by every WHEP session of the
 * stream: H.264 access units packetised to RTP payloads (media/rtp/h264.ts), the current GOP kept
 * packetised so a new viewer starts at once on its keyframe, and the AAC audio transcoded to Opus
 * by one ffmpeg per stream (opus.ts). Sessions only stamp their own sequence numbers and
 * timestamps; werift encrypts per viewer (SRTP keys differ).
 */
import { RtpHeader, RtpPacket } from 'werift';
import type { Logger } from '../../core/log.ts';
import { parseAudioSpecificConfig } from '../../media/codec/aac.ts';
import { MediaError } from '../../media/errors.ts';
import { parseAudioTag } from '../../media/flv/audio.ts';
import { parseVideoTag } from '../../media/flv/video.ts';
import type { HubStream, StreamTap } from '../../media/hub/stream.ts';
import { H264Packetizer } from '../../media/rtp/h264.ts';
import { type MediaTag, TAG_AUDIO, TAG_VIDEO } from '../../media/tag.ts';
import { OpusTranscoder } from './opus.ts';

/** One packetised access unit; its RtpPackets are shared: sessions rewrite seq/ts before each send. */
export interface VideoFrame {
  packets: RtpPacket[];
  /** Presentation time on the stream timeline, ms (DTS + CompositionTime). */
  ptsMs: number;
  keyframe: boolean;
  bytes: number;
}

export interface AudioPacket {
  packet: RtpPacket;
  /** 48 kHz sample clock since the transcoder started (RFC 7587 4.1: Opus RTP always uses 48 kHz). */
  samples: number;
}

export interface FeedSubscriber {
  /** Called once on subscribe with the packetised GOP so far (empty: wait for the next keyframe). */
  onJoin(frames: readonly VideoFrame[]): void;
  onVideo(frame: VideoFrame): void;
  onAudio(packet: AudioPacket): void;
  /** The stream can no longer be played over WebRTC (its video changed to something we cannot send). */
  onUnsupported(reason: string): void;
}

/** The GOP kept for joiners is capped; a longer GOP than this waits for the next keyframe. */
const MAX_GOP_BYTES = 16 * 1024 * 1024;

/** Why a stream cannot go out over WebRTC, or undefined when it can (checked before a session). */
export function webrtcUnsupportedReason(stream: HubStream): string | undefined {
  const header = stream.videoSequenceHeader;
  if (!header) {
    return stream.hasVideo
      ? 'the stream has no H.264 decoder configuration yet; retry in a moment'
      : 'WebRTC playback needs H.264 video and this stream has none (yet); play it over HTTP-FLV or HLS';
  }
  try {
    const info = parseVideoTag(header.data);
    if (info.codec !== 'avc')
      return `WebRTC playback here sends H.264 only and this stream is ${info.codec.toUpperCase()}; play it over HTTP-FLV or HLS`;
  } catch {
    return 'the stream video configuration is unreadable';
  }
  let lastPtsMs = -Infinity;
  for (const tag of stream.snapshot()) {
    if (tag.type !== TAG_VIDEO) continue;
    const pts = framePts(tag);
    if (pts === undefined) continue;
    if (pts < lastPtsMs) return B_FRAMES_MESSAGE;
    lastPtsMs = pts;
  }
  return undefined;
}

export const B_FRAMES_MESSAGE =
  'the stream uses B-frames, which browsers do not play over WebRTC; set the encoder to H.264 baseline profile or bframes=0 (OBS: x264 options "bframes=0")';

/** Presentation time of a coded video frame (undefined for configs and unreadable tags). */
function framePts(tag: MediaTag): number | undefined {
  try {
    const info = parseVideoTag(tag.data);
    return info.packetType === 'coded-frames' ? tag.timestamp + info.compositionTimeMs : undefined;
  } catch {
    return undefined;
  }
}

export class WebRtcFeed {
  readonly stream: HubStream;
  private readonly log: Logger;
  private readonly packetizer = new H264Packetizer();
  private readonly subscribers = new Set<FeedSubscriber>();
  private gop: VideoFrame[] = [];
  private gopBytes = 0;
  private removeTap: (() => void) | undefined;
  private transcoder: OpusTranscoder | undefined;
  private audioConfig: Buffer | undefined;
  private readonly ffmpegPath: string;
  private unsupported: string | undefined;
  private lastPtsMs = -Infinity;
  closed = false;

  constructor(stream: HubStream, log: Logger, options: { ffmpegPath?: string } = {}) {
    this.stream = stream;
    this.log = log.child({ component: 'webrtc-feed', stream: stream.key });
    this.ffmpegPath = options.ffmpegPath ?? 'ffmpeg';
    // Start from what the stream already has: configs and the cached GOP, then live tags.
    for (const tag of stream.snapshot()) this.onTag(tag, true);
    const tap: StreamTap = {
      onTag: (tag) => this.onTag(tag, false),
      onClose: () => this.close(),
    };
    this.removeTap = stream.addTap(tap);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Adds a session; it gets the packetised GOP (if any) at once, then live frames. */
  subscribe(sub: FeedSubscriber): void {
    this.subscribers.add(sub);
    if (this.unsupported) {
      sub.onUnsupported(this.unsupported);
      return;
    }
    sub.onJoin(this.gop);
  }

  unsubscribe(sub: FeedSubscriber): void {
    this.subscribers.delete(sub);
  }

  /** The GOP a new session starts on (tests and the session's join burst read it). */
  get gopFrames(): readonly VideoFrame[] {
    return this.gop;
  }

  private onTag(tag: MediaTag, fromSnapshot: boolean): void {
    if (this.closed || this.unsupported) return;
    try {
      if (tag.type === TAG_VIDEO) this.onVideoTag(tag, fromSnapshot);
      else if (tag.type === TAG_AUDIO && !fromSnapshot) this.onAudioTag(tag);
      else if (tag.type === TAG_AUDIO && fromSnapshot) this.onAudioConfig(tag);
    } catch (err) {
      // A broken frame must not stop the stream for everyone: drop it, the next keyframe heals.
      if (!(err instanceof MediaError)) throw err;
      this.log.debug({ code: err.code, msg: err.message }, 'webrtc: frame dropped');
    }
  }

  private onVideoTag(tag: MediaTag, fromSnapshot: boolean): void {
    const info = parseVideoTag(tag.data);
    if (info.codec !== 'avc') {
      if (info.packetType === 'sequence-header') this.markUnsupported(`video codec changed to ${info.codec}`);
      return;
    }
    if (info.packetType === 'sequence-header') {
      this.packetizer.setConfig(tag.data.subarray(info.payloadOffset));
      return;
    }
    if (info.packetType !== 'coded-frames' || !this.packetizer.configured) return;
    // B-frames: presentation order differs from decode order, which WebRTC receivers do not
    // reorder (they would show frames out of order). A constant CompositionTime is harmless.
    const ptsMs = tag.timestamp + info.compositionTimeMs;
    if (ptsMs < this.lastPtsMs) {
      this.markUnsupported(B_FRAMES_MESSAGE);
      return;
    }
    this.lastPtsMs = ptsMs;
    if (!info.isKeyframe && this.gop.length === 0 && fromSnapshot) return;
    const payloads = this.packetizer.packetize(tag.data, info.payloadOffset);
    if (payloads.length === 0) return;
    let bytes = 0;
    const packets = payloads.map((p) => {
      bytes += p.payload.length;
      return new RtpPacket(new RtpHeader({ marker: p.marker }), p.payload);
    });
    const frame: VideoFrame = {
      packets,
      ptsMs,
      keyframe: info.isKeyframe,
      bytes,
    };
    if (frame.keyframe) {
      this.gop = [];
      this.gopBytes = 0;
    }
    if (this.gop.length > 0 || frame.keyframe) {
      this.gopBytes += bytes;
      if (this.gopBytes > MAX_GOP_BYTES) {
        this.gop = [];
        this.gopBytes = 0;
      } else this.gop.push(frame);
    }
    if (!fromSnapshot) for (const sub of this.subscribers) sub.onVideo(frame);
  }

  private onAudioConfig(tag: MediaTag): void {
    const info = parseAudioTag(tag.data);
    if (info.codec === 'aac' && info.isSequenceHeader)
      this.audioConfig = tag.data.subarray(info.payloadOffset);
  }

  private onAudioTag(tag: MediaTag): void {
    const info = parseAudioTag(tag.data);
    if (info.codec !== 'aac') return; // MP3 and others: the stream plays without sound over WebRTC
    if (info.isSequenceHeader) {
      const asc = tag.data.subarray(info.payloadOffset);
      if (this.audioConfig?.equals(asc) && this.transcoder) return;
      this.audioConfig = asc;
      this.transcoder?.close();
      this.transcoder = undefined;
      return;
    }
    if (!this.audioConfig || this.subscribers.size === 0) return;
    if (!this.transcoder) {
      this.transcoder = new OpusTranscoder(parseAudioSpecificConfig(this.audioConfig), this.log, {
        ffmpegPath: this.ffmpegPath,
        onPacket: (payload, samples) => {
          const packet = new RtpPacket(new RtpHeader({ marker: false }), payload);
          for (const sub of this.subscribers) sub.onAudio({ packet, samples });
        },
      });
    }
    this.transcoder.push(tag.data.subarray(info.payloadOffset));
  }

  private markUnsupported(reason: string): void {
    if (this.unsupported) return;
    this.unsupported = reason;
    this.log.warn({ reason }, 'webrtc: stream cannot be sent to browsers any more');
    for (const sub of [...this.subscribers]) sub.onUnsupported(reason);
  }

  /** Idempotent: stops the tap and the transcoder. Sessions are closed by their owner. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.removeTap?.();
    this.removeTap = undefined;
    this.transcoder?.close();
    this.transcoder = undefined;
    this.gop = [];
  }
}
