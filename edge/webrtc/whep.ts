/**
 * WHEP (draft-ietf-wish-whep) sessions of one node: `POST /<app>/<name>/whep` with an SDP offer
 * creates a session and answers 201 with its Location; `DELETE` on that Location ends it. HTTP
 * routing, play authorisation and draining live in viewer-http.ts like every other viewer; this
 * class owns the sessions, the per-stream feeds, the node's UDP port and the metrics.
 */

import { RelaycastError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import type { Metrics } from '../../core/metrics.ts';
import type { HubStream } from '../../media/hub/stream.ts';
import { WebRtcFeed, webrtcUnsupportedReason } from './feed.ts';
import { checkOffer } from './offer.ts';
import { type SessionEndReason, type SessionTotals, WhepSession } from './session.ts';
import { UdpMux } from './udp-mux.ts';

export interface WhepOptions {
  /** The one UDP port of every session (0 = WHEP off). */
  udpPort: number;
  /** Address bound for the UDP port. */
  host: string;
  /** Address put in the ICE candidate of every answer. */
  publicIp: string;
  /** 0 = no limit. */
  maxSessions: number;
  connectTimeoutMs?: number;
  silenceTimeoutMs?: number;
  ffmpegPath?: string;
}

export const WHEP_CONNECT_TIMEOUT_MS = 15_000;
export const WHEP_SILENCE_TIMEOUT_MS = 15_000;

/** How long a WHEP POST waits for a stream's first video configuration (a pull just started). */
const VIDEO_CONFIG_WAIT_MS = 5000;

/** Resolves once `stream` has a video sequence header, or after `ms` (bounded, never rejects). */
function videoConfigOf(stream: HubStream, ms: number): Promise<void> {
  if (stream.videoSequenceHeader || stream.closed) return Promise.resolve();
  return new Promise((resolve) => {
    let removeTap: () => void = () => {};
    const done = () => {
      clearTimeout(timer);
      removeTap();
      resolve();
    };
    const timer = setTimeout(done, ms);
    removeTap = stream.addTap({
      onTag: () => {
        if (stream.videoSequenceHeader) done();
      },
      onClose: done,
    });
  });
}

export class WhepServer {
  private readonly options: WhepOptions;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly sessions = new Map<string, WhepSession>();
  private readonly feeds = new Map<HubStream, WebRtcFeed>();
  private readonly totals: SessionTotals = {
    videoPackets: 0,
    videoBytes: 0,
    audioPackets: 0,
    audioBytes: 0,
    nacks: 0,
    plis: 0,
  };
  private readonly flushed: SessionTotals = { ...this.totals };
  private readonly metricsTimer: NodeJS.Timeout;
  readonly mux: UdpMux;

  constructor(options: WhepOptions, metrics: Metrics, log: Logger) {
    this.options = options;
    this.metrics = metrics;
    this.log = log.child({ component: 'whep' });
    this.mux = new UdpMux(this.log);
    this.metricsTimer = setInterval(() => this.flushMetrics(), 1000);
    this.metricsTimer.unref();
  }

  /** Binds the node's UDP port; resolves with it. */
  async listen(): Promise<number> {
    return this.mux.listen(this.options.udpPort, this.options.host);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Checks that a session could start, before the stream is acquired (cheap refusals first). */
  checkCapacity(): void {
    if (this.options.maxSessions > 0 && this.sessions.size >= this.options.maxSessions)
      throw new RelaycastError(
        'RC_WEBRTC_SESSION_LIMIT',
        `this node has reached its WebRTC session limit (${this.options.maxSessions}); retry on another node or play over HTTP-FLV/HLS`,
      );
  }

  /** Validates the offer without touching the stream (400/406 before 404). */
  checkOffer(offer: string): void {
    checkOffer(offer);
  }

  /** Creates a session for `stream` from the browser's offer; the caller answers 201. */
  async create(
    stream: HubStream,
    offer: string,
    remote: string | undefined,
  ): Promise<{ id: string; sdp: string }> {
    this.checkCapacity();
    // An edge's pull (or a publisher that just started) may not have delivered the H.264
    // configuration yet: give it a few seconds before judging the stream's codecs.
    await videoConfigOf(stream, VIDEO_CONFIG_WAIT_MS);
    const unsupported = webrtcUnsupportedReason(stream);
    if (unsupported) throw new RelaycastError('RC_WEBRTC_CODEC_UNSUPPORTED', unsupported);
    const feed = this.feedFor(stream);
    const session = new WhepSession(stream, feed, this.totals, {
      connectTimeoutMs: this.options.connectTimeoutMs ?? WHEP_CONNECT_TIMEOUT_MS,
      silenceTimeoutMs: this.options.silenceTimeoutMs ?? WHEP_SILENCE_TIMEOUT_MS,
      iceInterfaceAddresses: { udp4: '127.0.0.1' },
      iceAdditionalHostAddresses: ['127.0.0.1'],
    });
    this.sessions.set(session.id, session);
    this.metrics.webrtcSessions.set(this.sessions.size);
    session.once('close', (reason) => this.forget(session, reason));
    try {
      session.attachViewer(remote);
      const local = await session.answer(offer);
      if (session.closed) throw new RelaycastError('RC_PLAY_NOT_FOUND', `stream ${stream.key} ended`);
      const sdp = this.mux.register(session, local, this.options.publicIp, session.iceUdpTransports());
      this.log.info({ session: session.id, stream: stream.key, remote }, 'whep session created');
      return { id: session.id, sdp };
    } catch (err) {
      session.close('ice-failed');
      if (err instanceof RelaycastError) throw err;
      throw new RelaycastError(
        'RC_WEBRTC_SDP_INVALID',
        `the offer could not be answered: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  /** DELETE: ends the session if it belongs to app/name. */
  delete(app: string, name: string, id: string): void {
    const session = this.sessions.get(id);
    if (!session || session.stream.app !== app || session.stream.name !== name)
      throw new RelaycastError(
        'RC_WEBRTC_SESSION_NOT_FOUND',
        `no WHEP session ${id} on ${app}/${name} (ended or never existed)`,
      );
    session.close('deleted');
  }

  private feedFor(stream: HubStream): WebRtcFeed {
    let feed = this.feeds.get(stream);
    if (!feed || feed.closed) {
      feed = new WebRtcFeed(stream, this.log, { ffmpegPath: this.options.ffmpegPath });
      this.feeds.set(stream, feed);
    }
    return feed;
  }

  private forget(session: WhepSession, reason: SessionEndReason): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    this.mux.unregister(session);
    this.metrics.webrtcSessions.set(this.sessions.size);
    this.metrics.webrtcSessionEnds.inc({ reason });
    this.log.info({ session: session.id, stream: session.stream.key, reason }, 'whep session ended');
    // The feed (its GOP copy and its ffmpeg) lives while the stream has WebRTC viewers.
    const feed = this.feeds.get(session.stream);
    if (
      feed &&
      feed.subscriberCount === 0 &&
      ![...this.sessions.values()].some((s) => s.stream === session.stream)
    ) {
      feed.close();
      this.feeds.delete(session.stream);
    }
  }

  private flushMetrics(): void {
    const t = this.totals;
    const f = this.flushed;
    const m = this.metrics;
    if (t.videoPackets > f.videoPackets)
      m.webrtcPackets.inc({ kind: 'video' }, t.videoPackets - f.videoPackets);
    if (t.audioPackets > f.audioPackets)
      m.webrtcPackets.inc({ kind: 'audio' }, t.audioPackets - f.audioPackets);
    if (t.videoBytes > f.videoBytes) m.webrtcBytes.inc({ kind: 'video' }, t.videoBytes - f.videoBytes);
    if (t.audioBytes > f.audioBytes) m.webrtcBytes.inc({ kind: 'audio' }, t.audioBytes - f.audioBytes);
    if (t.nacks > f.nacks) m.webrtcNacks.inc(t.nacks - f.nacks);
    if (t.plis > f.plis) m.webrtcPlis.inc(t.plis - f.plis);
    Object.assign(f, t);
    for (const s of this.sessions.values()) if (s.rttSeconds !== undefined) m.webrtcRtt.observe(s.rttSeconds);
  }

  /** Ends every session and releases the UDP port. */
  async close(): Promise<void> {
    clearInterval(this.metricsTimer);
    for (const s of [...this.sessions.values()]) s.close('shutdown');
    for (const f of this.feeds.values()) f.close();
    this.feeds.clear();
    this.flushMetrics();
    await this.mux.close();
  }
}
