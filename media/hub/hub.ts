/**
 * The stream hub: every live stream on this process, by app/name. Origins feed it from RTMP
 * ingest, edges from their pull of an origin; viewers of every protocol read from it.
 */
import { EventEmitter } from 'node:events';
import {
  DEFAULT_HUB_LIMITS,
  type HubLimits,
  HubStream,
  type Publication,
  type PublicationEndReason,
  type PublisherInfo,
} from './stream.ts';
import type { Viewer, ViewerCloseReason } from './viewer.ts';

export interface HubEvents {
  'stream-create': [HubStream];
  'stream-close': [HubStream];
  publish: [HubStream, Publication];
  unpublish: [HubStream, Publication, PublicationEndReason];
  takeover: [HubStream, Publication, Publication];
  'viewer-join': [HubStream, Viewer];
  'viewer-leave': [HubStream, Viewer, ViewerCloseReason];
  'viewer-skip': [HubStream, Viewer];
  'viewer-first-frame': [HubStream, Viewer, number];
}

export class StreamHub extends EventEmitter<HubEvents> {
  readonly limits: HubLimits;
  private readonly streams = new Map<string, HubStream>();
  private closed = false;
  private readonly now: (() => number) | undefined;

  /** `options.now`: a monotonic ms clock for the streams' rate and slow-viewer timing (tests). */
  constructor(limits?: Partial<HubLimits>, options: { now?: () => number } = {}) {
    super();
    this.limits = { ...DEFAULT_HUB_LIMITS, ...limits };
    this.now = options.now;
  }

  get size(): number {
    return this.streams.size;
  }

  list(): HubStream[] {
    return [...this.streams.values()];
  }

  get(app: string, name: string): HubStream | undefined {
    return this.streams.get(`${app}/${name}`);
  }

  /** The stream if it has a publisher right now. */
  getLive(app: string, name: string): HubStream | undefined {
    const s = this.get(app, name);
    return s?.live ? s : undefined;
  }

  /** Gets or creates the stream object (without a publisher). */
  ensure(app: string, name: string): HubStream {
    if (this.closed) throw new Error('hub is closed');
    const key = `${app}/${name}`;
    let stream = this.streams.get(key);
    if (!stream) {
      stream = new HubStream(app, name, this.limits, (s) => this.forget(s), this.now);
      this.wire(stream);
      this.streams.set(key, stream);
      this.emit('stream-create', stream);
    }
    return stream;
  }

  /**
   * Starts publishing app/name. A publisher already there is ended with 'takeover' and its
   * onEnd callback runs, so the caller can close that connection.
   */
  publish(
    app: string,
    name: string,
    info: PublisherInfo,
    onEnd?: (reason: PublicationEndReason) => void,
  ): Publication {
    return this.ensure(app, name).attach(info, onEnd);
  }

  private wire(stream: HubStream): void {
    stream.on('publish', (p) => this.emit('publish', stream, p));
    stream.on('unpublish', (p, r) => this.emit('unpublish', stream, p, r));
    stream.on('takeover', (o, n) => this.emit('takeover', stream, o, n));
    stream.on('viewer-join', (v) => this.emit('viewer-join', stream, v));
    stream.on('viewer-leave', (v, r) => this.emit('viewer-leave', stream, v, r));
    stream.on('viewer-skip', (v) => this.emit('viewer-skip', stream, v));
    stream.on('viewer-first-frame', (v, ms) => this.emit('viewer-first-frame', stream, v, ms));
  }

  private forget(stream: HubStream): void {
    if (this.streams.get(stream.key) !== stream) return;
    if (!stream.closed) {
      // Empty and unpublished: close it properly (this calls back here once closed).
      stream.close('stream-ended');
      return;
    }
    this.streams.delete(stream.key);
    this.emit('stream-close', stream);
  }

  viewerCount(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.viewers.size;
    return n;
  }

  /** Closes every stream and viewer. */
  close(): void {
    this.closed = true;
    for (const s of [...this.streams.values()]) s.close('shutdown');
  }
}
