/**
 * One live stream in the hub: a publisher, the GOP cache, and the viewers it fans out to.
 *
 * Fan-out design (why it is shaped like this):
 * - Tags from the publisher are queued and flushed once per event-loop turn (setImmediate), or at
 *   most every `mergeWriteMs` (one timer per stream), so many tags cost each viewer one write.
 * - Viewers are grouped into cohorts by (format, timestamp offset). A flush serialises the batch once
 *   per cohort and every viewer of the cohort writes the same Buffer.
 * - Slow viewers are judged on how fast they drain against the stream's rate over time, not on a
 *   snapshot of their backlog (see `judgeViewer`): a joining viewer's cached-GOP burst is credited,
 *   and a viewer whose connection drains faster than the stream is catching up. One that falls
 *   behind stops receiving ("skipping") and rejoins at the next keyframe once its backlog has
 *   halved; past `viewerDropAfterMs` of skipping, or past its hard backlog limit, it is dropped.
 *   Memory per viewer is bounded by `viewerHardMaxBufferBytes` plus its join burst (itself at most
 *   `gopCacheMaxBytes` and the configs).
 */
import { EventEmitter } from 'node:events';
import { decodeAmf0 } from '../amf/amf0.ts';
import { type Closable, Lifecycle, LifecycleState } from '../lifecycle.ts';
import {
  isAudioSequenceHeader,
  isVideoInfoFrame,
  isVideoKeyframe,
  isVideoSequenceHeader,
  type MediaTag,
  TAG_AUDIO,
  TAG_SCRIPT,
  TAG_VIDEO,
} from '../tag.ts';
import { flvHeaderFor, serializeTags } from './output.ts';
import { RateMeter } from './rate.ts';
import {
  Cohort,
  cohortKey,
  Viewer,
  type ViewerCloseReason,
  type ViewerOptions,
  type ViewerSink,
} from './viewer.ts';

export interface HubLimits {
  /** A GOP larger than this is not cached; new viewers then wait for the next keyframe. */
  gopCacheMaxBytes: number;
  /**
   * Socket backlog past which a viewer is judged: beyond its join burst, and unless it drains
   * faster than the stream's rate, it starts skipping to the next keyframe.
   */
  viewerMaxBufferBytes: number;
  /** Backlog at which a viewer is dropped at once (plus its join burst while it catches up). */
  viewerHardMaxBufferBytes: number;
  /** A viewer still skipping after this long is dropped. */
  viewerDropAfterMs: number;
  /** Distinct timestamp offsets (cohorts) per stream; past it new viewers join the newest cohort. */
  maxCohorts: number;
  /** How long viewers stay connected waiting for the publisher to come back. */
  republishWaitMs: number;
  /** 0 = unlimited. */
  maxViewersPerStream: number;
  /**
   * Merged writes: hold tags up to this long and send them to viewers in one write (0 = flush
   * once per event-loop turn). Fewer, larger socket writes cost far less CPU per viewer, at the
   * price of this much added latency (SRS's `mw_latency` does the same, 350 ms by default).
   */
  mergeWriteMs: number;
}

export const DEFAULT_HUB_LIMITS: HubLimits = {
  gopCacheMaxBytes: 32 * 1024 * 1024,
  viewerMaxBufferBytes: 2 * 1024 * 1024,
  viewerHardMaxBufferBytes: 8 * 1024 * 1024,
  viewerDropAfterMs: 10_000,
  maxCohorts: 32,
  republishWaitMs: 30_000,
  maxViewersPerStream: 0,
  mergeWriteMs: 0,
};

/**
 * Audio frames without any video after which a stream counts as audio-only (about 1 s of AAC),
 * unless onMetaData already said whether video comes.
 */
export const AUDIO_ONLY_AFTER_FRAMES = 48;

/** onMetaData announces video (videocodecid/width), or undefined when it says nothing. */
function metadataAnnouncesVideo(body: Buffer): boolean | undefined {
  try {
    const values = decodeAmf0(body);
    const meta = values[1];
    if (!meta || typeof meta !== 'object' || Array.isArray(meta) || meta instanceof Date) return undefined;
    const m = meta as Record<string, unknown>;
    if ('videocodecid' in m || 'width' in m) return true;
    if ('audiocodecid' in m) return false;
    return undefined;
  } catch {
    return undefined;
  }
}

/** Window over which the stream's ingest rate is measured (several GOPs of a typical encoder). */
/** A join burst being shared: its pieces cover the head (header, metadata, configs) and gop[0..upTo). */
interface SharedBurst {
  gopFirst: MediaTag;
  configVersion: number;
  metadata: MediaTag | undefined;
  upTo: number;
  pieces: Buffer[];
}

/** Writes per join at most (plus one); more pieces are merged into one shared Buffer. */
const SHARED_BURST_MAX_PIECES = 8;

export const STREAM_RATE_WINDOW_MS = 10_000;

/** Gap inserted in the stream timeline when a new publisher continues it (about one video frame). */
export const REPUBLISH_GAP_MS = 40;

export interface PublisherInfo {
  /** Unique per publish session. */
  sessionId: string;
  /** What kind of source: RTMP ingest, an edge's pull from an origin, a test. */
  kind: 'rtmp' | 'pull' | 'source' | 'test';
  remote?: string;
  /** The channel's own HLS encryption ('none' | 'aes-128'); absent = the packager's default. */
  hlsEncryption?: 'none' | 'aes-128';
}

/** unpublish: the encoder said so; disconnected: its connection went away without saying so. */
export type PublicationEndReason =
  | 'unpublish'
  | 'disconnected'
  | 'takeover'
  | 'kicked'
  | 'closed'
  | 'error'
  | 'idle';

export interface StreamTap {
  /** Called synchronously for every tag, already on the stream timeline. */
  onTag(tag: MediaTag): void;
  /** A new publisher continues the stream (HLS: discontinuity). */
  onPublisherChange?(): void;
  /** The publisher left (HLS may close its open segment). */
  onUnpublish?(): void;
  /** The stream object is gone. */
  onClose?(): void;
}

export interface StreamEvents {
  publish: [Publication];
  unpublish: [Publication, PublicationEndReason];
  takeover: [old: Publication, next: Publication];
  'viewer-join': [Viewer];
  'viewer-leave': [Viewer, ViewerCloseReason];
  'viewer-skip': [Viewer];
  'viewer-first-frame': [Viewer, number];
  close: [reason: ViewerCloseReason];
}

/**
 * One publisher's turn on a stream (media/lifecycle.ts). Both ways it can end converge on one
 * closed state and one 'close' event carrying the reason:
 * - close(reason): its owner (the RTMP session, the edge pull, a source) ends it; the stream lets
 *   it go (unpublish event, taps told, the republish wait starts). The owner's onRevoked is not
 *   called: it knows.
 * - revoke(reason): the stream takes it away (takeover, kick, stream closed); the owner's
 *   onRevoked callback runs so it can close its connection.
 */
export class Publication extends Lifecycle<PublicationEndReason> {
  readonly stream: HubStream;
  readonly info: PublisherInfo;
  readonly startedAt = Date.now();
  private readonly onRevoked: ((reason: PublicationEndReason) => void) | undefined;
  private revoked = false;
  /** Date.now() of the last audio/video tag (0 = none yet): lets the cluster spot a stalled encoder. */
  lastMediaAt = 0;
  constructor(stream: HubStream, info: PublisherInfo, onRevoked?: (reason: PublicationEndReason) => void) {
    super();
    this.stream = stream;
    this.info = info;
    this.onRevoked = onRevoked;
  }

  /** Feed one tag with the publisher's own (raw) timestamp. Ignored once closed. */
  pushTag(type: MediaTag['type'], rawTimestamp: number, data: Buffer): void {
    if (this.closed) return;
    if (type !== 18) this.lastMediaAt = Date.now();
    this.stream.ingest(this, type, rawTimestamp, data);
  }

  /** The owner ends the publication (unpublish, socket closed). Safe to call twice. */
  override close(reason: PublicationEndReason = 'unpublish'): void {
    super.close(reason);
  }

  /** @internal The stream took the publication away (it no longer is the stream's publisher). */
  revoke(reason: PublicationEndReason): void {
    if (this.closed) return;
    this.revoked = true;
    this.close(reason);
  }

  protected override onClose(reason: PublicationEndReason): void {
    if (this.revoked) this.onRevoked?.(reason);
    else this.stream.detach(this, reason);
  }
}

export interface StreamCounters {
  bytesIn: number;
  bytesOut: number;
  videoFrames: number;
  audioFrames: number;
  keyframes: number;
  viewerSkips: number;
  viewerDrops: number;
  publishes: number;
  takeovers: number;
}

export class HubStream extends EventEmitter<StreamEvents> implements Closable<ViewerCloseReason> {
  readonly app: string;
  readonly name: string;
  readonly key: string;
  readonly createdAt = Date.now();
  readonly limits: HubLimits;
  publisher: Publication | undefined;
  /** Current onMetaData script tag body, if the publisher sent one. */
  metadata: MediaTag | undefined;
  videoSequenceHeader: MediaTag | undefined;
  audioSequenceHeader: MediaTag | undefined;
  /** Latest audio frame (codecs without a sequence header, e.g. MP3, are described from it). */
  lastAudioTag: MediaTag | undefined;
  /** Bumped whenever a sequence header's bytes change. */
  configVersion = 0;
  hasVideo = false;
  hasAudio = false;
  /** What the current publisher's onMetaData said about video. */
  private metadataVideo: boolean | undefined;
  private audioFramesThisPublish = 0;
  /** Tags since (and including) the last keyframe. */
  private gop: MediaTag[] = [];
  private gopBytes = 0;
  readonly viewers = new Set<Viewer>();
  private readonly cohorts = new Map<string, Cohort>();
  private readonly taps = new Set<StreamTap>();
  private pending: MediaTag[] = [];
  private flushScheduled = false;
  private flushTimer: NodeJS.Timeout | undefined;
  /**
   * Relays (protocol 'pull': an edge or a --workers process reading this stream) are not held for
   * the merge: their node merges for its own viewers, so a cluster pays one merge delay per
   * viewer, not one per hop. They get `pending[relaySent..]` every event-loop turn.
   */
  private relays = 0;
  /**
   * Join bursts from the cached GOP, serialised once and shared: every viewer that starts on the
   * current GOP with the same format and cohort gets the same Buffers (a join storm of 500
   * viewers a second used to serialise — and hold — a whole GOP per viewer). Pieces are appended
   * as the GOP grows, and merged once there are many, so a join costs a few writes of shared
   * memory. Keyed by format|rtmpStreamId|cohort offset|header flags.
   */
  private readonly bursts = new Map<string, SharedBurst>();
  private relaySent = 0;
  private relayFlushScheduled = false;
  /** Increments per flush; a viewer started or resumed inside a flush is marked with it. */
  private flushSeq = 0;
  /** Highest timestamp on the stream timeline so far. */
  lastTimestamp = 0;
  private timelineBase = 0;
  private rawFirst: number | undefined;
  private rawPrev = 0;
  private rawWrap = 0;
  private endTimer: NodeJS.Timeout | undefined;
  private readonly onEmpty: (s: HubStream) => void;
  /** Monotonic clock in ms (performance.now; tests drive their own). */
  private readonly now: () => number;
  /** Publisher bytes per second, what a viewer must drain to keep up. */
  readonly ingestRate = new RateMeter(STREAM_RATE_WINDOW_MS, 10);
  private readonly lifecycle = new LifecycleState<ViewerCloseReason>();
  readonly counters: StreamCounters = {
    bytesIn: 0,
    bytesOut: 0,
    videoFrames: 0,
    audioFrames: 0,
    keyframes: 0,
    viewerSkips: 0,
    viewerDrops: 0,
    publishes: 0,
    takeovers: 0,
  };

  constructor(
    app: string,
    name: string,
    limits: HubLimits,
    onEmpty: (s: HubStream) => void,
    now: () => number = () => performance.now(),
  ) {
    super();
    this.now = now;
    this.app = app;
    this.name = name;
    this.key = `${app}/${name}`;
    this.limits = limits;
    this.onEmpty = onEmpty;
  }

  get live(): boolean {
    return this.publisher !== undefined;
  }

  get closed(): boolean {
    return this.lifecycle.closed;
  }

  get closeReason(): ViewerCloseReason | undefined {
    return this.lifecycle.closeReason;
  }

  /** Attach a publisher. An existing one is ended with 'takeover' (the newer session always wins). */
  attach(info: PublisherInfo, onEnd?: (reason: PublicationEndReason) => void): Publication {
    this.lifecycle.assertOpen(`stream ${this.key}`, 'publish again to open it anew');
    const next = new Publication(this, info, onEnd);
    const old = this.publisher;
    if (old) {
      this.flushNow();
      this.publisher = undefined;
      old.revoke('takeover');
      this.counters.takeovers++;
      this.emit('takeover', old, next);
      this.emit('unpublish', old, 'takeover');
    }
    if (this.endTimer) {
      clearTimeout(this.endTimer);
      this.endTimer = undefined;
    }
    const continuing = old !== undefined || this.counters.publishes > 0;
    this.publisher = next;
    this.counters.publishes++;
    // Continue the timeline: the new publisher's first tag lands just after the last one sent.
    this.timelineBase = continuing ? this.lastTimestamp + REPUBLISH_GAP_MS : 0;
    this.rawFirst = undefined;
    this.rawWrap = 0;
    // Old GOP, codec config and track set belong to the old publisher: a new one may bring other
    // tracks (A/V → video-only, A/V → audio-only, a backup encoder set up differently). New viewers
    // wait for its keyframe (or its audio, if it turns out audio-only) and get an FLV header and
    // configs that describe it. Viewers already connected keep their connection: their FLV header
    // cannot change, so a track the new publisher lacks simply stops (players that wait for it,
    // e.g. MSE with an audio SourceBuffer, may stall until they reconnect); new configs reach them
    // in-band as the new publisher sends them.
    this.gop = [];
    this.gopBytes = 0;
    this.metadata = undefined;
    this.metadataVideo = undefined;
    this.audioFramesThisPublish = 0;
    this.videoSequenceHeader = undefined;
    this.audioSequenceHeader = undefined;
    this.lastAudioTag = undefined;
    this.hasVideo = false;
    this.hasAudio = false;
    this.configVersion++; // what was described from the old configs (stream info) is stale
    if (continuing) for (const tap of this.taps) tap.onPublisherChange?.();
    this.emit('publish', next);
    return next;
  }

  /** @internal called by Publication.close */
  detach(pub: Publication, reason: PublicationEndReason): void {
    if (this.publisher !== pub) return;
    this.flushNow();
    this.publisher = undefined;
    this.emit('unpublish', pub, reason);
    for (const tap of this.taps) tap.onUnpublish?.();
    this.scheduleEnd();
  }

  /** Ends the current publisher from outside (admin kick, lost lease, idle). */
  kickPublisher(reason: PublicationEndReason): boolean {
    const pub = this.publisher;
    if (!pub) return false;
    this.flushNow();
    this.publisher = undefined;
    pub.revoke(reason);
    this.emit('unpublish', pub, reason);
    for (const tap of this.taps) tap.onUnpublish?.();
    this.scheduleEnd();
    return true;
  }

  private scheduleEnd(): void {
    if (this.endTimer || this.closed) return;
    this.endTimer = setTimeout(() => {
      this.endTimer = undefined;
      if (!this.publisher) this.close('stream-ended');
    }, this.limits.republishWaitMs);
    this.endTimer.unref();
  }

  /** @internal called by Publication.pushTag */
  ingest(pub: Publication, type: MediaTag['type'], rawTimestamp: number, data: Buffer): void {
    if (pub !== this.publisher) return;
    const tag: MediaTag = { type, timestamp: this.toTimeline(rawTimestamp >>> 0), data };
    this.counters.bytesIn += data.length;
    if (type === TAG_VIDEO) {
      this.hasVideo = true;
      if (isVideoSequenceHeader(data)) {
        if (!this.videoSequenceHeader?.data.equals(data)) this.configVersion++;
        this.videoSequenceHeader = tag;
      } else if (!isVideoInfoFrame(data)) {
        this.counters.videoFrames++;
        if (isVideoKeyframe(data)) {
          this.counters.keyframes++;
          this.gop = [];
          this.gopBytes = 0;
          this.bursts.clear();
        }
        if (this.gop.length > 0 || isVideoKeyframe(data)) this.cacheInGop(tag);
      }
    } else if (type === TAG_AUDIO) {
      this.hasAudio = true;
      if (isAudioSequenceHeader(data)) {
        if (!this.audioSequenceHeader?.data.equals(data)) this.configVersion++;
        this.audioSequenceHeader = tag;
      } else {
        this.counters.audioFrames++;
        this.audioFramesThisPublish++;
        this.lastAudioTag = tag;
        if (this.gop.length > 0) this.cacheInGop(tag);
      }
    } else if (type === TAG_SCRIPT) {
      this.metadata = tag;
      this.metadataVideo = metadataAnnouncesVideo(data);
    }
    for (const tap of this.taps) tap.onTag(tag);
    this.pending.push(tag);
    if (this.relays > 0 && !this.relayFlushScheduled) {
      this.relayFlushScheduled = true;
      setImmediate(this.flushRelaysBound);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      if (this.limits.mergeWriteMs > 0)
        this.flushTimer = setTimeout(this.flushBound, this.limits.mergeWriteMs);
      else setImmediate(this.flushBound);
    }
  }

  private cacheInGop(tag: MediaTag): void {
    this.gopBytes += tag.data.length;
    if (this.gopBytes > this.limits.gopCacheMaxBytes) {
      this.gop = [];
      this.gopBytes = 0;
      this.bursts.clear();
      return;
    }
    this.gop.push(tag);
  }

  private toTimeline(raw: number): number {
    if (this.rawFirst === undefined) {
      this.rawFirst = raw;
      this.rawPrev = raw;
    }
    // RTMP/FLV timestamps are 32-bit and wrap after ~49.7 days; unwrap them.
    const delta = raw - this.rawPrev;
    if (delta < -0x80000000) this.rawWrap += 0x100000000;
    else if (delta > 0x80000000) this.rawWrap -= 0x100000000;
    this.rawPrev = raw;
    let ts = raw + this.rawWrap - this.rawFirst + this.timelineBase;
    if (ts < this.timelineBase) ts = this.timelineBase;
    if (ts > this.lastTimestamp) this.lastTimestamp = ts;
    return ts;
  }

  addTap(tap: StreamTap): () => void {
    this.taps.add(tap);
    return () => this.taps.delete(tap);
  }

  /** Tags a tap needs to start mid-stream: config, metadata and the cached GOP. */
  snapshot(): MediaTag[] {
    const out: MediaTag[] = [];
    if (this.metadata) out.push(this.metadata);
    if (this.videoSequenceHeader) out.push(this.videoSequenceHeader);
    if (this.audioSequenceHeader) out.push(this.audioSequenceHeader);
    out.push(...this.gop);
    return out;
  }

  /**
   * Whether viewers may start without a keyframe: no video has come and none is expected (the
   * metadata says so, or enough audio arrived alone). Until then a new viewer waits, so it never
   * misses the video configuration of a stream whose audio simply came first.
   */
  get audioOnly(): boolean {
    if (this.hasVideo || !this.hasAudio) return false;
    if (this.metadataVideo !== undefined) return !this.metadataVideo;
    return this.audioFramesThisPublish >= AUDIO_ONLY_AFTER_FRAMES;
  }

  get gopCacheBytes(): number {
    return this.gopBytes;
  }

  get gopCacheTags(): number {
    return this.gop.length;
  }

  get cohortCount(): number {
    return this.cohorts.size;
  }

  /**
   * Adds a viewer. It starts on the cached GOP at once when there is one (or at once for audio-only
   * streams), otherwise it waits for the next keyframe.
   */
  addViewer(sink: ViewerSink, options: ViewerOptions): Viewer {
    this.lifecycle.assertOpen(`stream ${this.key}`, 'play it again once it is live');
    const viewer = new Viewer(sink, options, performance.now());
    viewer.release = (v, r) => this.releaseViewer(v, r);
    this.viewers.add(viewer);
    if (viewer.protocol === 'pull') this.relays++;
    this.emit('viewer-join', viewer);
    if (this.gop.length > 0) {
      this.startViewer(viewer, this.gop, 0, this.gop.length);
    } else if (this.publisher && this.audioOnly) {
      this.startViewer(viewer, [], 0, 0);
    } else {
      return viewer; // waits for a keyframe, which the queued tags do not hold (the GOP would)
    }
    // The tags queued for the next batch are in the burst (in the GOP cache, or before its
    // keyframe), or older than an audio-only start: the viewer skips them when that batch goes
    // out. Flushing everyone here instead turned a join storm into one flush to every viewer per
    // join: 4000 viewers joining at 500/s kept both workers at a full core and their accept queue
    // 300 deep.
    viewer.skipTags = this.pending.length - (viewer.protocol === 'pull' ? this.relaySent : 0);
    return viewer;
  }

  /** Same as viewer.close(reason). */
  removeViewer(viewer: Viewer, reason: ViewerCloseReason): void {
    viewer.close(reason);
  }

  /** Called once by Viewer.close: the stream forgets the viewer. */
  private releaseViewer(viewer: Viewer, reason: ViewerCloseReason): void {
    viewer.state = 'closed';
    if (this.viewers.delete(viewer) && viewer.protocol === 'pull') this.relays--;
    const cohort = viewer.cohort;
    if (cohort) {
      cohort.viewers.delete(viewer);
      if (cohort.viewers.size === 0) this.cohorts.delete(cohort.key);
    }
    if (reason === 'slow') this.counters.viewerDrops++;
    this.emit('viewer-leave', viewer, reason);
    viewer.sink.close(reason);
    if (this.viewers.size === 0 && !this.publisher && !this.endTimer && !this.closed) this.onEmpty(this);
  }

  private cohortFor(viewer: Viewer, startTs: number): Cohort {
    const key = cohortKey(viewer.format, startTs, viewer.rtmpStreamId);
    let cohort = this.cohorts.get(key);
    if (!cohort) {
      if (this.cohorts.size >= this.limits.maxCohorts) {
        // Bounded serialisation cost: reuse the newest compatible cohort (the viewer then starts a
        // little above 0, still monotonic).
        let best: Cohort | undefined;
        for (const c of this.cohorts.values()) {
          if (c.format === viewer.format && c.rtmpStreamId === viewer.rtmpStreamId && c.offset <= startTs) {
            if (!best || c.offset > best.offset) best = c;
          }
        }
        if (best) cohort = best;
      }
      if (!cohort) {
        cohort = new Cohort(viewer.format, startTs, viewer.rtmpStreamId);
        this.cohorts.set(key, cohort);
      }
    }
    return cohort;
  }

  /** Sends the join burst (header, metadata, config, tags[from..to)) and makes the viewer live. */
  private startViewer(viewer: Viewer, tags: readonly MediaTag[], from: number, to: number): void {
    const startTs = from < to ? tags[from]!.timestamp : this.lastTimestamp;
    const cohort = this.cohortFor(viewer, startTs);
    viewer.cohort = cohort;
    cohort.viewers.add(viewer);
    if (tags === this.gop && from === 0 && to === tags.length && to > 0) {
      let bytes = 0;
      for (const piece of this.sharedBurst(viewer, cohort, startTs)) {
        viewer.send(piece);
        bytes += piece.length;
      }
      this.counters.bytesOut += bytes;
      this.markStarted(viewer, bytes, true);
      return;
    }
    const burst: MediaTag[] = [];
    // Metadata and configuration records are stamped with the start time so the viewer's
    // timeline begins at (about) zero.
    if (this.metadata) burst.push({ ...this.metadata, timestamp: startTs });
    if (this.videoSequenceHeader) burst.push({ ...this.videoSequenceHeader, timestamp: startTs });
    if (this.audioSequenceHeader) burst.push({ ...this.audioSequenceHeader, timestamp: startTs });
    for (let i = from; i < to; i++) burst.push(tags[i]!);
    let prefix: Buffer | undefined;
    if (!viewer.headerSent && viewer.format !== 'rtmp') {
      prefix = flvHeaderFor(this.hasAudio || !this.hasVideo, this.hasVideo || !this.hasAudio);
    }
    viewer.headerSent = true;
    const buf = serializeTags(
      viewer.format,
      burst,
      0,
      burst.length,
      cohort.offset,
      viewer.rtmpStreamId,
      prefix,
    );
    viewer.send(buf);
    this.counters.bytesOut += buf.length;
    this.markStarted(viewer, buf.length, from < to);
  }

  private markStarted(viewer: Viewer, burstBytes: number, media: boolean): void {
    viewer.burstBytes = burstBytes;
    viewer.configVersion = this.configVersion;
    viewer.state = 'live';
    viewer.servedFlush = this.flushSeq;
    if (media) this.emit('viewer-first-frame', viewer, performance.now() - viewer.createdAt);
  }

  /** The join burst from the whole cached GOP for `viewer` in `cohort`, shared (see `bursts`). */
  private sharedBurst(viewer: Viewer, cohort: Cohort, startTs: number): readonly Buffer[] {
    const header = !viewer.headerSent && viewer.format !== 'rtmp';
    viewer.headerSent = true;
    const withAudio = this.hasAudio || !this.hasVideo;
    const withVideo = this.hasVideo || !this.hasAudio;
    const key = `${viewer.format}|${viewer.rtmpStreamId}|${cohort.offset}|${header}|${withAudio}|${withVideo}`;
    let b = this.bursts.get(key);
    const gop = this.gop;
    if (
      !b ||
      b.gopFirst !== gop[0] ||
      b.configVersion !== this.configVersion ||
      b.metadata !== this.metadata ||
      b.upTo > gop.length
    ) {
      // A new GOP (or configuration): bursts of the old one are of no use to anyone joining now.
      for (const [k, old] of this.bursts) if (old.gopFirst !== gop[0]) this.bursts.delete(k);
      const head: MediaTag[] = [];
      if (this.metadata) head.push({ ...this.metadata, timestamp: startTs });
      if (this.videoSequenceHeader) head.push({ ...this.videoSequenceHeader, timestamp: startTs });
      if (this.audioSequenceHeader) head.push({ ...this.audioSequenceHeader, timestamp: startTs });
      const prefix = header ? flvHeaderFor(withAudio, withVideo) : undefined;
      const first = serializeTags(
        viewer.format,
        head,
        0,
        head.length,
        cohort.offset,
        viewer.rtmpStreamId,
        prefix,
      );
      b = {
        gopFirst: gop[0]!,
        configVersion: this.configVersion,
        metadata: this.metadata,
        upTo: 0,
        pieces: first.length ? [first] : [],
      };
      this.bursts.set(key, b);
    }
    if (b.upTo < gop.length) {
      b.pieces.push(
        serializeTags(viewer.format, gop, b.upTo, gop.length, cohort.offset, viewer.rtmpStreamId),
      );
      b.upTo = gop.length;
      // Few writes per join: merge once pieces pile up (each merge is shared by later joiners).
      if (b.pieces.length > SHARED_BURST_MAX_PIECES) b.pieces = [Buffer.concat(b.pieces)]; // chunk framing stays valid
    }
    return b.pieces;
  }

  private readonly flushBound = (): void => this.flush();
  private readonly flushRelaysBound = (): void => this.flushRelays();

  /** The relays' share of a flush: what they have not had of `pending` yet. */
  private flushRelays(): void {
    this.relayFlushScheduled = false;
    if (this.relaySent >= this.pending.length) return;
    const tags = this.pending.slice(this.relaySent);
    this.relaySent = this.pending.length;
    if (this.relays > 0) this.deliver(tags, true);
  }

  /** Flush synchronously (before a publisher change, so old tags go out under the old timeline). */
  private flushNow(): void {
    if (this.pending.length > 0) this.flush();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    const tags = this.pending;
    if (tags.length === 0) return;
    this.flushRelays();
    this.pending = [];
    this.relaySent = 0;
    this.ingestRate.sample(this.now(), this.counters.bytesIn);
    if (this.viewers.size > this.relays) this.deliver(tags, false);
  }

  /** Sends a batch to the relays or to everyone else (see `relays`). */
  private deliver(tags: readonly MediaTag[], relays: boolean): void {
    const seq = ++this.flushSeq;
    const n = tags.length;
    // Where a waiting or skipping viewer may (re)start in this batch: the last video keyframe, or,
    // for audio-only streams, the first audio frame.
    let startAt = -1;
    if (this.hasVideo) {
      for (let i = n - 1; i >= 0; i--) {
        const t = tags[i]!;
        if (t.type === TAG_VIDEO && isVideoKeyframe(t.data) && !isVideoSequenceHeader(t.data)) {
          startAt = i;
          break;
        }
      }
    } else if (this.audioOnly) {
      startAt = 0;
    }
    const now = this.now();
    for (const viewer of [...this.viewers]) {
      if ((viewer.protocol === 'pull') !== relays) continue;
      const skip = viewer.skipTags;
      viewer.skipTags = 0;
      if (viewer.state === 'waiting') {
        if (startAt >= 0) this.startViewer(viewer, tags, startAt, n);
        continue;
      }
      this.judgeViewer(viewer, now, tags, startAt, n);
      // Joined since the last batch on a burst that holds tags[0..skip): only the rest, its own.
      if (skip > 0 && viewer.state === 'live' && viewer.cohort && viewer.servedFlush !== seq) {
        viewer.servedFlush = seq;
        if (skip >= n) continue;
        const c = viewer.cohort;
        const own = serializeTags(c.format, tags, skip, n, c.offset, c.rtmpStreamId);
        viewer.send(own);
        this.counters.bytesOut += own.length;
      }
    }
    // One serialisation per cohort; every live viewer in it writes the same buffer.
    for (const cohort of this.cohorts.values()) {
      let buf: Buffer | undefined;
      for (const viewer of cohort.viewers) {
        if (viewer.state !== 'live' || viewer.configVersion < 0) continue;
        if (viewer.servedFlush === seq || (viewer.protocol === 'pull') !== relays) continue;
        buf ??= serializeTags(cohort.format, tags, 0, n, cohort.offset, cohort.rtmpStreamId);
        viewer.send(buf);
        this.counters.bytesOut += buf.length;
      }
    }
  }

  /**
   * The slow-viewer rule. A backlog is only a problem if the viewer is not catching up:
   * - the join burst (a whole cached GOP, 10 MB and more for an 8 s GOP at 10 Mbit/s) is credited
   *   until the viewer first gets under `viewerMaxBufferBytes`: only backlog beyond it counts;
   * - a viewer whose connection drained faster than the stream's rate over the last
   *   VIEWER_DRAIN_WINDOW_MS is shrinking its backlog, whatever its size;
   * - anything else past `viewerMaxBufferBytes` skips to the next keyframe.
   * The hard limit stays a memory bound: `viewerHardMaxBufferBytes` plus the burst still credited.
   */
  private judgeViewer(
    viewer: Viewer,
    now: number,
    tags: readonly MediaTag[],
    startAt: number,
    n: number,
  ): void {
    const limits = this.limits;
    const backlog = viewer.sink.bufferedBytes;
    viewer.drain.sample(now, viewer.bytesSent - backlog);
    if (backlog > limits.viewerHardMaxBufferBytes + viewer.burstBytes) {
      this.removeViewer(viewer, 'slow');
      return;
    }
    if (viewer.state === 'skipping') {
      if (now - viewer.skippingSince > limits.viewerDropAfterMs) {
        this.removeViewer(viewer, 'slow');
      } else if (startAt >= 0 && backlog <= limits.viewerMaxBufferBytes / 2) {
        viewer.state = 'live';
        this.resumeViewer(viewer, tags, startAt, n);
      }
      return;
    }
    if (backlog <= limits.viewerMaxBufferBytes) {
      viewer.burstBytes = 0; // caught up: from here on its whole backlog counts
      return;
    }
    if (backlog - viewer.burstBytes <= limits.viewerMaxBufferBytes) return;
    const drainBps = viewer.drain.bytesPerSecond;
    const streamBps = this.ingestRate.bytesPerSecond;
    if (drainBps >= 0 && streamBps > 0 && drainBps >= streamBps) return;
    viewer.state = 'skipping';
    viewer.skippingSince = now;
    viewer.burstBytes = 0;
    viewer.skips++;
    this.counters.viewerSkips++;
    this.emit('viewer-skip', viewer);
  }

  private resumeViewer(viewer: Viewer, tags: readonly MediaTag[], from: number, n: number): void {
    const cohort = viewer.cohort!;
    const out: MediaTag[] = [];
    if (viewer.configVersion !== this.configVersion) {
      const ts = tags[from]!.timestamp;
      if (this.videoSequenceHeader) out.push({ ...this.videoSequenceHeader, timestamp: ts });
      if (this.audioSequenceHeader) out.push({ ...this.audioSequenceHeader, timestamp: ts });
      viewer.configVersion = this.configVersion;
    }
    for (let i = from; i < n; i++) out.push(tags[i]!);
    const buf = serializeTags(cohort.format, out, 0, out.length, cohort.offset, cohort.rtmpStreamId);
    viewer.send(buf);
    this.counters.bytesOut += buf.length;
    viewer.servedFlush = this.flushSeq;
  }

  /** Ends the stream: every viewer is closed, taps told, the hub forgets it. Safe to call twice. */
  close(reason: ViewerCloseReason): void {
    if (this.closed) return;
    this.flushNow();
    this.bursts.clear();
    if (this.publisher) {
      const pub = this.publisher;
      this.publisher = undefined;
      pub.revoke(reason === 'shutdown' ? 'closed' : 'kicked');
      // Listeners (metrics, the cluster layer) read the publication's own close reason.
      this.emit('unpublish', pub, pub.closeReason ?? 'closed');
    }
    this.lifecycle.begin(reason);
    if (this.endTimer) clearTimeout(this.endTimer);
    for (const viewer of [...this.viewers]) this.removeViewer(viewer, reason);
    for (const tap of this.taps) tap.onClose?.();
    this.taps.clear();
    this.emit('close', reason);
    this.onEmpty(this);
  }
}
