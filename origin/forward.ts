/**
 * Forwarding ("restreaming"): one Forwarder pushes one hub stream to one RTMP(S) destination
 * (YouTube, Twitch, another relaycast) with media/rtmp/client.ts, and keeps doing so across
 * destination outages until the stream ends or its owner closes it.
 *
 * - It reads the stream as a tap (like HLS packaging): every tag arrives synchronously, on the
 *   stream's monotonic timeline. Each new connection starts from the stream's snapshot (metadata,
 *   sequence headers, cached GOP) so the destination gets a keyframe at once, with timestamps
 *   rebased to start at 0.
 * - Nothing is queued while not connected, so memory stays bounded whatever the destination does.
 *   While connected, the socket's backlog is the queue: past `maxBacklogBytes` (the hub's
 *   `viewerMaxBufferBytes` by default, plus the join burst until it drains) the forwarder drops
 *   frames up to the next keyframe, as the hub does for a slow viewer, and counts a skip. It
 *   resumes there once the backlog has halved, resending the sequence headers; still skipping after
 *   `slowAfterMs`, it reconnects (RC_FORWARD_SLOW).
 * - A failed or lost connection retries with exponential backoff and jitter (retryMinMs doubling
 *   to retryMaxMs); a connection that stayed live for `stableAfterMs` resets the backoff.
 * - A new publisher on the stream (republish, backup switch) sends its own sequence headers in
 *   band; the forwarder passes them on and waits for its first keyframe.
 * - When the stream ends (the hub closes it), the publish is ended as encoders end it
 *   (FCUnpublish, deleteStream) and the connection closed: state 'stopped', 'close' event.
 *
 * The stream key never appears in state, logs or errors: they carry `redactUrl(url)`.
 */
import { RelaycastError } from '../core/errors.ts';
import { type ForwardTarget, parseForwardUrl, redactUrl } from '../core/forward-url.ts';
import type { Logger } from '../core/log.ts';
import type { HubStream, StreamTap } from '../media/hub/stream.ts';
import { InvalidStateError, Lifecycle } from '../media/lifecycle.ts';
import { RtmpClient, RtmpClientError } from '../media/rtmp/client.ts';
import {
  isAudioSequenceHeader,
  isVideoKeyframe,
  isVideoSequenceHeader,
  type MediaTag,
  TAG_AUDIO,
  TAG_SCRIPT,
  TAG_VIDEO,
} from '../media/tag.ts';

export type ForwardStateName = 'connecting' | 'live' | 'retrying' | 'stopped';

/** stopped: its owner closed it; stream-ended: the hub stream closed; shutdown: the node stops. */
export type ForwardCloseReason = 'stopped' | 'stream-ended' | 'shutdown';

/** What the admin API and metrics show about one forward (a plain object, safe to serialise). */
export interface ForwardState {
  /** The destination with its key replaced by *** (redactUrl). */
  url: string;
  /** The hub stream, app/name. */
  stream: string;
  state: ForwardStateName;
  /** Date.now() when the current state began. */
  since: number;
  /** Bytes written to the destination, over every connection (RTMP framing included). */
  bytesSent: number;
  /** Connection attempts after the first one. */
  reconnects: number;
  /** Times the destination fell behind and frames were dropped up to the next keyframe. */
  skips: number;
  /** 'RC_…: what happened' for the last failure (never contains the key); undefined if none yet. */
  lastError: string | undefined;
  lastErrorCode: string | undefined;
  lastErrorAt: number | undefined;
  /** While retrying: Date.now() of the next attempt. */
  nextRetryAt: number | undefined;
}

export interface ForwarderOptions {
  /** rtmp://host[:port]/app/KEY or rtmps://…; invalid → RelaycastError RC_FORWARD_URL_INVALID. */
  url: string;
  /** The hub stream to forward; when it closes, the forwarder stops. */
  stream: HubStream;
  /** RTMPS: verify the destination's certificate (default true). */
  rejectUnauthorized?: boolean;
  /** Bound on each wait: TCP/TLS connect + handshake, connect, createStream, publish (default 10 s). */
  timeoutMs?: number;
  /** First retry delay (default 1 s); doubles per failure up to retryMaxMs (default 30 s). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** A connection live at least this long resets the backoff (default 10 s). */
  stableAfterMs?: number;
  /** Socket backlog past which frames are dropped to the next keyframe (default: the hub's viewerMaxBufferBytes). */
  maxBacklogBytes?: number;
  /** Still dropping after this long: reconnect (default: the hub's viewerDropAfterMs). */
  slowAfterMs?: number;
  /** Outgoing RTMP chunk size (default 4096). */
  chunkSize?: number;
  log?: Logger;
  /** For tests: the jitter source (default Math.random). */
  random?: () => number;
}

export type ForwarderEvents = {
  /** Every state change (connecting, live, retrying with a new lastError, stopped) and every skip. */
  state: [ForwardState];
};

export const FORWARD_CHUNK_SIZE = 4096;
const DEFAULTS = { timeoutMs: 10_000, retryMinMs: 1000, retryMaxMs: 30_000, stableAfterMs: 10_000 };

export class Forwarder extends Lifecycle<ForwardCloseReason, ForwarderEvents> {
  private source: HubStream;
  readonly target: ForwardTarget;
  /** redactUrl(url): what logs and state show. */
  readonly redactedUrl: string;
  private readonly options: ForwarderOptions;
  private readonly log: Logger | undefined;
  private state: ForwardStateName = 'connecting';
  private since = Date.now();
  private reconnects = 0;
  private skips = 0;
  private lastError: string | undefined;
  private lastErrorCode: string | undefined;
  private lastErrorAt: number | undefined;
  private nextRetryAt: number | undefined;
  /** Bytes of connections that have ended. */
  private bytesOfPast = 0;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Aborts the TCP/TLS connect + handshake in flight when the forward closes. */
  private connecting: AbortController | undefined;
  private removeTap: (() => void) | undefined;
  /** The connection being opened or live. */
  private client: RtmpClient | undefined;
  private streamId = 0;
  private liveSince = 0;
  /** Stream timestamp that maps to 0 on this connection. */
  private offset = 0;
  /** The highest timestamp sent on this connection. */
  private lastOut = 0;
  /** Dropping until a keyframe: the connection started without a cached GOP, or a new publisher. */
  private waitKeyframe = false;
  private skipping = false;
  private skippingSince = 0;
  /** Backlog credited to the join burst (snapshot) until the connection first drains below the limit. */
  private burstBytes = 0;

  constructor(options: ForwarderOptions) {
    super();
    this.target = parseForwardUrl(options.url);
    this.redactedUrl = redactUrl(options.url);
    this.options = options;
    this.source = options.stream;
    this.log = options.log?.child({ component: 'forward', stream: this.stream.key, url: this.redactedUrl });
    if (this.stream.closed)
      throw new InvalidStateError(
        `stream ${this.stream.key}`,
        this.stream.closeReason,
        'forward it once it is live',
      );
    this.removeTap = this.tap(this.stream);
    // After the constructor returns, so a 'state' listener added right away sees 'connecting'.
    queueMicrotask(() => void this.attempt());
  }

  /** The hub stream being forwarded. */
  get stream(): HubStream {
    return this.source;
  }

  private tap(stream: HubStream): () => void {
    const tap: StreamTap = {
      onTag: (tag) => {
        if (stream === this.source) this.onTag(tag);
      },
      onPublisherChange: () => {
        if (stream === this.source) this.waitKeyframe = true;
      },
      onClose: () => {
        if (stream === this.source) this.close('stream-ended');
      },
    };
    return stream.addTap(tap);
  }

  /**
   * Follows another hub stream (a backup switch): the destination keeps its connection when the
   * codecs are the same — it gets the new stream's metadata, sequence headers and cached GOP with
   * timestamps continuing where the old stream stopped —, and reconnects when they differ.
   */
  switchTo(stream: HubStream): void {
    if (this.closed || stream === this.source) return;
    if (stream.closed)
      throw new InvalidStateError(`stream ${stream.key}`, stream.closeReason, 'switch to a live stream');
    const old = this.source;
    this.removeTap?.();
    this.source = stream;
    this.removeTap = this.tap(stream);
    this.log?.info({ from: old.key, to: stream.key }, 'forward follows another publisher');
    const client = this.client;
    if (this.state !== 'live' || !client || client.closed) return;
    if (codecOf(old) !== codecOf(stream)) {
      // A decoder cannot change codecs mid-stream: publish again from the new stream's start.
      this.bytesOfPast += client.bytesOut;
      this.client = undefined;
      client.unpublish(this.streamId, this.target.key);
      client.end('forward switches codecs');
      this.reconnects++;
      void this.attempt();
      return;
    }
    const snapshot = stream.snapshot();
    const gop = snapshot.slice(snapshot.length - stream.gopCacheTags);
    const startTs = gop[0]?.timestamp ?? stream.lastTimestamp;
    // The new stream's first tag lands one frame after the last one sent.
    this.offset = startTs - (this.lastOut + 40);
    this.skipping = false;
    this.waitKeyframe = gop.length === 0 && !stream.audioOnly;
    if (stream.metadata) this.send(client, stream.metadata, startTs);
    this.sendConfigs(client, startTs);
    for (const tag of gop) this.send(client, tag);
  }

  /** A snapshot of the forward's state (a new object each call). */
  get info(): ForwardState {
    return {
      url: this.redactedUrl,
      stream: this.stream.key,
      state: this.state,
      since: this.since,
      bytesSent: this.bytesSent,
      reconnects: this.reconnects,
      skips: this.skips,
      lastError: this.lastError,
      lastErrorCode: this.lastErrorCode,
      lastErrorAt: this.lastErrorAt,
      nextRetryAt: this.nextRetryAt,
    };
  }

  get bytesSent(): number {
    return this.bytesOfPast + (this.client?.bytesOut ?? 0);
  }

  private setState(state: ForwardStateName): void {
    if (state !== this.state) {
      this.state = state;
      this.since = Date.now();
    }
    if (state !== 'retrying') this.nextRetryAt = undefined;
    this.emit('state', this.info);
  }

  private async attempt(): Promise<void> {
    this.retryTimer = undefined;
    if (this.closed) return;
    this.setState('connecting');
    const t = this.target;
    const timeoutMs = this.options.timeoutMs ?? DEFAULTS.timeoutMs;
    let client: RtmpClient | undefined;
    const abort = new AbortController();
    this.connecting = abort;
    try {
      client = await RtmpClient.open(t.host, t.port, {
        signal: abort.signal,
        timeoutMs,
        tls: t.scheme === 'rtmps',
        rejectUnauthorized: this.options.rejectUnauthorized ?? true,
      });
      this.connecting = undefined;
      if (this.closed) {
        client.close('forward stopped');
        return;
      }
      this.client = client;
      client.setChunkSize(this.options.chunkSize ?? FORWARD_CHUNK_SIZE);
      await client.connect(t.app, t.tcUrl);
      client.announcePublish(t.key);
      const sid = await client.createStream();
      await client.publish(sid, t.key);
      if (this.closed) return; // onClose already ended the client
      this.streamId = sid;
      const live = client;
      live.once('close', () => {
        if (this.client === live) this.onFailure(live.closeError ?? lostError(live));
      });
      live.on('status', (info) => {
        // After Publish.Start, an error status means the destination ended our publish.
        if (info.level === 'error' && this.client === live)
          this.onFailure(
            new RtmpClientError(
              'RC_RTMP_REJECTED',
              `the destination ended the publish: ${String(info.code ?? 'error')}: ${String(info.description ?? '')}`,
            ),
          );
      });
      this.liveSince = Date.now();
      this.startSending(client);
      this.setState('live');
      this.log?.info({ reconnects: this.reconnects }, 'forward live');
    } catch (err) {
      this.connecting = undefined;
      if (client && this.client !== client) client.close('forward stopped');
      this.onFailure(err);
    }
  }

  /** Ends the connection that failed and schedules the next attempt. */
  private onFailure(err: unknown): void {
    const client = this.client;
    if (client) {
      this.bytesOfPast += client.bytesOut;
      this.client = undefined;
      client.close('forward failed');
    }
    if (this.closed) return;
    const code =
      err instanceof RtmpClientError || hasRcCode(err) ? (err as { code: string }).code : 'RC_INTERNAL';
    this.lastErrorCode = code;
    this.lastError = `${code}: ${this.hideKey((err as Error)?.message ?? String(err))}`;
    this.lastErrorAt = Date.now();
    if (
      this.liveSince &&
      Date.now() - this.liveSince >= (this.options.stableAfterMs ?? DEFAULTS.stableAfterMs)
    )
      this.failures = 0;
    this.liveSince = 0;
    const min = this.options.retryMinMs ?? DEFAULTS.retryMinMs;
    const max = this.options.retryMaxMs ?? DEFAULTS.retryMaxMs;
    const ceiling = Math.min(max, min * 2 ** Math.min(this.failures, 30));
    // "Equal jitter": half the delay fixed, half random, so many forwards that failed together
    // (a destination restart) do not come back in one burst.
    const delay = Math.round(ceiling / 2 + (this.options.random ?? Math.random)() * (ceiling / 2));
    this.failures++;
    this.reconnects++;
    this.nextRetryAt = Date.now() + delay;
    this.retryTimer = setTimeout(() => void this.attempt(), delay);
    this.retryTimer.unref();
    this.setState('retrying');
    this.log?.warn({ code, err: this.lastError, retryInMs: delay }, 'forward failed; retrying');
  }

  /** The destination may echo the key back (e.g. "stream KEY is already publishing"). */
  private hideKey(message: string): string {
    let out = message.split(this.options.url).join(this.redactedUrl);
    const key = this.target.key;
    const bare = key.split('?')[0]!;
    for (const secret of [key, bare]) if (secret.length >= 3) out = out.split(secret).join('***');
    return out;
  }

  /** Metadata, sequence headers and the cached GOP: the destination can decode from the first frame. */
  private startSending(client: RtmpClient): void {
    const s = this.stream;
    const snapshot = s.snapshot();
    const gop = snapshot.slice(snapshot.length - s.gopCacheTags);
    const startTs = gop[0]?.timestamp ?? s.lastTimestamp;
    this.offset = startTs;
    this.lastOut = 0;
    this.skipping = false;
    this.waitKeyframe = gop.length === 0 && !s.audioOnly;
    if (s.metadata) this.send(client, s.metadata, startTs);
    this.sendConfigs(client, startTs);
    for (const tag of gop) this.send(client, tag);
    this.burstBytes = client.backlogBytes;
  }

  private sendConfigs(client: RtmpClient, ts: number): void {
    const s = this.stream;
    if (s.videoSequenceHeader) this.send(client, s.videoSequenceHeader, ts);
    if (s.audioSequenceHeader) this.send(client, s.audioSequenceHeader, ts);
  }

  private send(client: RtmpClient, tag: MediaTag, timestamp = tag.timestamp): number {
    const out = Math.max(0, timestamp - this.offset);
    if (out > this.lastOut) this.lastOut = out;
    return client.sendMedia(this.streamId, tag.type, out, tag.data);
  }

  private onTag(tag: MediaTag): void {
    const client = this.client;
    if (this.state !== 'live' || !client || client.closed) return;
    const data = tag.data;
    // Configuration and metadata always go (small, and a new publisher's decoder needs them).
    if (
      tag.type === TAG_SCRIPT ||
      (tag.type === TAG_VIDEO && isVideoSequenceHeader(data)) ||
      (tag.type === TAG_AUDIO && isAudioSequenceHeader(data))
    ) {
      this.send(client, tag);
      return;
    }
    // Where a dropping connection may start again: a video keyframe, or any audio frame when the
    // stream has no video.
    const startPoint =
      (tag.type === TAG_VIDEO && isVideoKeyframe(data)) || (tag.type === TAG_AUDIO && this.stream.audioOnly);
    const maxBacklog = this.options.maxBacklogBytes ?? this.stream.limits.viewerMaxBufferBytes;
    const backlog = client.backlogBytes;
    if (this.skipping) {
      if (!startPoint || backlog > maxBacklog / 2) {
        const slowAfterMs = this.options.slowAfterMs ?? this.stream.limits.viewerDropAfterMs;
        if (Date.now() - this.skippingSince > slowAfterMs)
          this.onFailure(
            new RelaycastError(
              'RC_FORWARD_SLOW',
              `the destination took less than the stream's rate for ${slowAfterMs} ms (${backlog} bytes queued); reconnecting`,
            ),
          );
        return;
      }
      this.skipping = false;
      this.waitKeyframe = false;
      this.sendConfigs(client, tag.timestamp);
    } else if (this.waitKeyframe) {
      if (!startPoint) return;
      this.waitKeyframe = false;
    }
    this.send(client, tag);
    const after = client.backlogBytes;
    if (after <= maxBacklog) this.burstBytes = 0;
    else if (after > maxBacklog + this.burstBytes) {
      this.skipping = true;
      this.skippingSince = Date.now();
      this.burstBytes = 0;
      this.skips++;
      this.log?.info(
        { backlogBytes: after, skips: this.skips },
        'forward destination is slow: dropping to the next keyframe',
      );
      this.emit('state', this.info);
    }
  }

  protected override onClose(reason: ForwardCloseReason): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.connecting?.abort();
    this.connecting = undefined;
    this.removeTap?.();
    this.removeTap = undefined;
    const client = this.client;
    this.client = undefined;
    if (client) {
      if (this.state === 'live' && !client.closed) {
        client.unpublish(this.streamId, this.target.key);
        client.end('forward stopped');
      } else client.close('forward stopped');
      this.bytesOfPast += client.bytesOut;
    }
    this.setState('stopped');
    this.log?.info({ reason, bytesSent: this.bytesSent, reconnects: this.reconnects }, 'forward stopped');
  }
}

/** Video and audio codec ids from the sequence headers (FLV codec id nibbles), e.g. '7/10'. */
function codecOf(s: HubStream): string {
  const v = s.videoSequenceHeader?.data[0];
  const a = s.audioSequenceHeader?.data[0];
  return `${v === undefined ? '-' : v & 0x0f}/${a === undefined ? '-' : a >> 4}`;
}

function hasRcCode(err: unknown): boolean {
  return (
    !!err &&
    typeof err === 'object' &&
    typeof (err as { code?: unknown }).code === 'string' &&
    (err as { code: string }).code.startsWith('RC_')
  );
}

function lostError(client: RtmpClient): RtmpClientError {
  return new RtmpClientError('RC_RTMP_CLOSED', `connection ended: ${client.closeReason ?? 'unknown'}`);
}
