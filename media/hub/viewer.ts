import { Lifecycle } from '../lifecycle.ts';
import type { OutputFormat } from './output.ts';
import { RateMeter } from './rate.ts';

/** Window over which a viewer's drain rate is measured (see HubStream's slow-viewer rule). */
export const VIEWER_DRAIN_WINDOW_MS = 2000;

/** Where a viewer's bytes go. The server owns the socket; the hub only sees this. */
export interface ViewerSink {
  /** Queue bytes; must not throw. The buffer is shared with other viewers: never modify it. */
  write(chunk: Buffer): void;
  /** Bytes accepted by write() but not yet flushed to the kernel (socket.writableLength). */
  readonly bufferedBytes: number;
  /** Ends the viewer's connection (idempotent). */
  close(reason: ViewerCloseReason): void;
}

export type ViewerCloseReason = 'stream-ended' | 'slow' | 'kicked' | 'limit' | 'shutdown' | 'client-gone';

/** Label for metrics and the admin API: which viewer-facing protocol this is. */
export type ViewerProtocol = 'flv' | 'rtmp' | 'pull' | 'webrtc';

export interface ViewerOptions {
  format: OutputFormat;
  protocol: ViewerProtocol;
  /** RTMP message stream id the player created (play side); ignored for FLV. */
  rtmpStreamId?: number;
  /** Bytes to send before the first media (FLV file header goes here for FLV formats). */
  remote?: string;
}

export type ViewerState = 'waiting' | 'live' | 'skipping' | 'closed';

/**
 * Viewers that started on the same keyframe share a timestamp offset and so share serialised
 * buffers: a cohort is the unit of serialisation in the fan-out path.
 */
export class Cohort {
  readonly key: string;
  readonly format: OutputFormat;
  readonly offset: number;
  readonly rtmpStreamId: number;
  readonly viewers = new Set<Viewer>();
  constructor(format: OutputFormat, offset: number, rtmpStreamId: number) {
    this.format = format;
    this.offset = offset;
    this.rtmpStreamId = rtmpStreamId;
    this.key = cohortKey(format, offset, rtmpStreamId);
  }
}

export function cohortKey(format: OutputFormat, offset: number, rtmpStreamId: number): string {
  return `${format}|${rtmpStreamId}|${offset}`;
}

let nextViewerId = 1;

/**
 * One viewer of a stream (media/lifecycle.ts): `close(reason)` ends it from either side — the
 * server when its connection goes, the stream when it ends or drops a slow viewer. The stream
 * forgets it and its sink is closed; 'close' fires with the reason.
 */
export class Viewer extends Lifecycle<ViewerCloseReason> {
  readonly id = nextViewerId++;
  readonly sink: ViewerSink;
  readonly format: OutputFormat;
  readonly protocol: ViewerProtocol;
  readonly rtmpStreamId: number;
  readonly remote: string | undefined;
  /** performance.now() at creation, for time-to-first-frame. */
  readonly createdAt: number;
  readonly joinedAtMs = Date.now();
  /** @internal The stream's side of close (it forgets the viewer, then closes the sink). */
  release: ((viewer: Viewer, reason: ViewerCloseReason) => void) | undefined;
  state: ViewerState = 'waiting';
  cohort: Cohort | undefined;
  /** Codec configuration generation this viewer last received (see HubStream.configVersion). */
  configVersion = -1;
  skippingSince = 0;
  bytesSent = 0;
  skips = 0;
  headerSent = false;
  /** Flush sequence in which this viewer was started or resumed (it already has that batch). */
  servedFlush = 0;
  /**
   * Leading tags of the next batch this viewer is not to get: it joined on the GOP cache, which
   * holds the tags queued for that batch, or on an audio-only stream after them
   * (HubStream.addViewer). Cleared when that batch goes out.
   */
  skipTags = 0;
  /**
   * Size of the join burst (cached GOP, configs) while the viewer has not yet caught up with it:
   * backlog up to this much is the burst, not a sign of a slow connection. 0 once caught up.
   */
  burstBytes = 0;
  /** How fast the connection takes bytes: sent minus still buffered, per second. */
  readonly drain = new RateMeter(VIEWER_DRAIN_WINDOW_MS);
  constructor(sink: ViewerSink, options: ViewerOptions, now: number) {
    super();
    this.sink = sink;
    this.format = options.format;
    this.protocol = options.protocol;
    this.rtmpStreamId = options.rtmpStreamId ?? 1;
    this.remote = options.remote;
    this.createdAt = now;
  }

  protected override onClose(reason: ViewerCloseReason): void {
    if (this.release) {
      this.release(this, reason);
      return;
    }
    this.state = 'closed';
    this.sink.close(reason);
  }

  send(buf: Buffer): void {
    if (buf.length === 0) return;
    this.bytesSent += buf.length;
    this.sink.write(buf);
  }
}
