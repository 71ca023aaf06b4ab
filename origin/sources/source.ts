/**
 * A channel's source: MPEG-TS over UDP or RTP (unicast or multicast) received on this node and
 * published into the hub as `<app>/<name>`, exactly like an RTMP publisher (HTTP-FLV, HLS, RTMP
 * play and metrics need nothing else).
 *
 * Lifecycle (issue 14's contract): start() once, close(reason) idempotent, `closed`, a 'close'
 * event with the reason; start() after close throws RC_SOURCE_CLOSED.
 *
 * Bad input never escapes: the demuxer and RTP reorderer count it, and every problem code is
 * logged at most once per `problemLogIntervalMs` with its count. A flood above
 * `maxDatagramsPerSecond` is dropped (and counted) before any parsing, so other streams keep the CPU.
 */
import { createSocket, type Socket } from 'node:dgram';
import { RelaycastError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import type { SourceSpec } from '../../core/source-url.ts';
import type { StreamHub } from '../../media/hub/hub.ts';
import type { Publication, PublicationEndReason } from '../../media/hub/stream.ts';
import { Lifecycle } from '../../media/lifecycle.ts';
import { TsDemuxer } from '../../media/mpegts/demuxer.ts';
import { RtpReorderer } from '../../media/rtp/rtp.ts';

export type SourceState = 'starting' | 'waiting' | 'receiving' | 'silent' | 'closed';

export interface SourceOptions {
  app: string;
  name: string;
  /** The URL as the operator wrote it (shown in listings; it holds no secret). */
  url: string;
  /** No datagram for this long: state 'silent', the publication ends (viewers wait for it). */
  silenceTimeoutMs?: number;
  problemLogIntervalMs?: number;
  /** SO_RCVBUF asked for; the kernel may cap it (net.core.rmem_max). Default 8 MiB. */
  recvBufferBytes?: number;
  maxDatagramsPerSecond?: number;
  /** Carried to the hub publication: the channel's own HLS encryption. */
  hlsEncryption?: 'none' | 'aes-128';
}

/** The hub publication of a source (kind 'source'), with the channel's own HLS encryption. */
export function publishSource(
  hub: StreamHub,
  options: Pick<SourceOptions, 'app' | 'name' | 'url' | 'hlsEncryption'>,
  onEnd: (reason: PublicationEndReason) => void,
): Publication {
  return hub.publish(
    options.app,
    options.name,
    {
      sessionId: `source:${options.name}:${Date.now()}`,
      kind: 'source',
      remote: options.url,
      ...(options.hlsEncryption ? { hlsEncryption: options.hlsEncryption } : {}),
    },
    onEnd,
  );
}

/** Input bitrate over the last full second (bytes counted as they arrive, rate taken on tick). */
export class BitrateMeter {
  private start = Date.now();
  private bytes = 0;
  kbps = 0;
  add(n: number): void {
    this.bytes += n;
  }
  tick(now: number): void {
    if (now - this.start < 1000) return;
    this.kbps = Math.round((this.bytes * 8) / (now - this.start));
    this.start = now;
    this.bytes = 0;
  }
}

/** Counts bad input by code; logs each code at most once per interval, with its count. */
export class ProblemLog {
  private last = Date.now();
  private readonly counts = new Map<string, { count: number; example: string }>();

  count(code: string, message: string): void {
    const c = this.counts.get(code);
    if (c) c.count++;
    else this.counts.set(code, { count: 1, example: message });
  }

  maybeFlush(now: number, intervalMs: number, log: Logger): void {
    if (now - this.last >= intervalMs) this.flush(log, now);
  }

  flush(log: Logger, now = Date.now()): void {
    this.last = now;
    for (const [code, { count, example }] of this.counts)
      log.warn({ code, count, example }, 'bad source input in the last interval');
    this.counts.clear();
  }
}

export interface SourceStats {
  name: string;
  url: string;
  state: SourceState;
  datagrams: number;
  bytes: number;
  packets: number;
  ccErrors: number;
  pesErrors: number;
  psiErrors: number;
  syncLosses: number;
  discontinuities: number;
  rtpLost: number;
  rtpReordered: number;
  floodDrops: number;
  /** Times the source came back after being silent. */
  reconnects: number;
  /** Date.now() of the last datagram, 0 = none yet. */
  lastPacketAt: number;
  /** Input bitrate over the last full second. */
  bitrateKbps: number;
  video?: string;
  audio?: string;
}

export type SourceEvents = {
  state: [SourceState];
};

/** A channel source: one of the hub's producers, so it follows media/lifecycle.ts like the others. */
export class Source extends Lifecycle<string, SourceEvents> {
  readonly spec: SourceSpec;
  readonly options: Required<Omit<SourceOptions, 'hlsEncryption'>> & Pick<SourceOptions, 'hlsEncryption'>;
  private readonly hub: StreamHub;
  private readonly log: Logger;
  private readonly demuxer: TsDemuxer;
  private readonly rtp: RtpReorderer | undefined;
  private socket: Socket | undefined;
  private publication: Publication | undefined;
  /** Another publisher took the stream: stay off it until this source goes silent and returns. */
  private yielded = false;
  private currentState: SourceState = 'starting';
  private started = false;
  private timer: NodeJS.Timeout | undefined;
  private datagrams = 0;
  private bytes = 0;
  private floodDrops = 0;
  private reconnects = 0;
  private lastPacketAt = 0;
  private windowStart = Date.now();
  private windowDatagrams = 0;
  private readonly bitrate = new BitrateMeter();
  private readonly problems = new ProblemLog();

  constructor(hub: StreamHub, spec: SourceSpec, options: SourceOptions, log: Logger) {
    super();
    this.hub = hub;
    this.spec = spec;
    this.options = {
      silenceTimeoutMs: 5000,
      problemLogIntervalMs: 10_000,
      recvBufferBytes: 8 * 1024 * 1024,
      maxDatagramsPerSecond: 50_000,
      ...options,
    };
    this.log = log.child({
      component: 'source',
      stream: `${options.app}/${options.name}`,
      source: options.url,
    });
    this.demuxer = new TsDemuxer({ programNumber: spec.programNumber });
    this.rtp = spec.protocol === 'rtp' ? new RtpReorderer() : undefined;
  }

  get state(): SourceState {
    return this.currentState;
  }

  /** Binds the socket and joins the group; rejects with RC_SOURCE_BIND_FAILED (then the source is closed). */
  async start(): Promise<void> {
    if (this.closed)
      throw new RelaycastError('RC_SOURCE_CLOSED', `source ${this.options.name} is closed; create a new one`);
    if (this.started) return;
    this.started = true;
    const spec = this.spec;
    const socket = createSocket({ type: spec.family === 6 ? 'udp6' : 'udp4', reuseAddr: true });
    this.socket = socket;
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        // Multicast: bind the group address so only this group's datagrams arrive on a shared port.
        socket.bind({ port: spec.port, address: spec.host, exclusive: false }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      if (spec.multicast) {
        if (spec.sourceAddress)
          socket.addSourceSpecificMembership(spec.sourceAddress, spec.host, spec.interfaceAddress);
        else socket.addMembership(spec.host, spec.interfaceAddress);
      }
      try {
        socket.setRecvBufferSize(this.options.recvBufferBytes);
      } catch (err) {
        this.log.warn(
          { err, code: 'RC_SOURCE_BIND_FAILED' },
          'could not enlarge the receive buffer; packet loss likelier at high bitrates',
        );
      }
    } catch (err) {
      const e = new RelaycastError(
        'RC_SOURCE_BIND_FAILED',
        `cannot receive ${this.options.url}: ${(err as Error).message}; check the port is free and the interface address exists on this host`,
        { cause: err },
      );
      this.close('bind-failed');
      throw e;
    }
    if (this.closed) return;
    socket.on('message', (msg) => this.onDatagram(msg));
    socket.on('error', (err) => this.log.warn({ err, code: 'RC_SOURCE_BIND_FAILED' }, 'source socket error'));
    this.setState('waiting');
    this.timer = setInterval(() => this.tick(), 250);
    this.timer.unref();
    this.log.info({ multicast: spec.multicast, protocol: spec.protocol }, 'source receiving');
  }

  private setState(state: SourceState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state);
  }

  private onDatagram(msg: Buffer): void {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowDatagrams = 0;
    }
    if (++this.windowDatagrams > this.options.maxDatagramsPerSecond) {
      this.floodDrops++;
      this.count(
        'RC_SOURCE_FLOOD',
        `more than ${this.options.maxDatagramsPerSecond} datagrams a second; the excess is dropped`,
      );
      return;
    }
    this.datagrams++;
    this.bytes += msg.length;
    this.bitrate.add(msg.length);
    this.lastPacketAt = now;
    if (this.currentState === 'silent') {
      this.reconnects++;
      this.yielded = false;
      this.log.info({ reconnects: this.reconnects }, 'source is back');
    }
    if (this.currentState !== 'receiving') this.setState('receiving');
    if (this.rtp) for (const payload of this.rtp.push(msg)) this.demux(payload);
    else this.demux(msg);
  }

  private demux(chunk: Buffer): void {
    const tags = this.demuxer.push(chunk);
    for (const p of this.demuxer.takeProblems()) this.count(p.code, p.message);
    if (tags.length === 0 || this.yielded) return;
    this.publication ??= publishSource(this.hub, this.options, (reason) => this.onPublicationEnd(reason));
    for (const tag of tags) this.publication.pushTag(tag.type, tag.timestamp, tag.data);
  }

  private onPublicationEnd(reason: PublicationEndReason): void {
    this.publication = undefined;
    if (reason === 'takeover' || reason === 'kicked') {
      this.yielded = true;
      this.log.warn(
        { reason },
        'another publisher took this stream; the source waits until it goes silent and returns',
      );
    }
  }

  private count(code: string, message: string): void {
    this.problems.count(code, message);
  }

  private tick(): void {
    const now = Date.now();
    this.bitrate.tick(now);
    if (this.currentState === 'receiving' && now - this.lastPacketAt > this.options.silenceTimeoutMs) {
      this.setState('silent');
      this.log.warn({ code: 'RC_SOURCE_SILENT', silentMs: now - this.lastPacketAt }, 'source went silent');
      this.publication?.close('idle');
      this.publication = undefined;
    }
    this.problems.maybeFlush(now, this.options.problemLogIntervalMs, this.log);
  }

  stats(): SourceStats {
    const d = this.demuxer.stats;
    const r = this.rtp?.stats;
    const program = this.demuxer.programInfo;
    return {
      name: this.options.name,
      url: this.options.url,
      state: this.currentState,
      datagrams: this.datagrams,
      bytes: this.bytes,
      packets: d.packets,
      ccErrors: d.ccErrors,
      pesErrors: d.pesErrors,
      psiErrors: d.psiErrors,
      syncLosses: d.syncLosses,
      discontinuities: d.discontinuities,
      rtpLost: r?.lost ?? 0,
      rtpReordered: r?.reordered ?? 0,
      floodDrops: this.floodDrops,
      reconnects: this.reconnects,
      lastPacketAt: this.lastPacketAt,
      bitrateKbps: this.currentState === 'receiving' ? this.bitrate.kbps : 0,
      video: program?.video?.codec,
      audio: program?.audio?.codec,
    };
  }

  /** Stops receiving and ends the publication (Lifecycle.close: idempotent, 'close' once). */
  protected override onClose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.problems.flush(this.log);
    try {
      this.socket?.close();
    } catch {
      // already closed by a failed bind
    }
    this.socket = undefined;
    this.publication?.close('closed');
    this.publication = undefined;
    this.setState('closed');
  }
}
