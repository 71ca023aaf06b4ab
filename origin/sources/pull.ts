/**
 * A channel source pulled from another server: HTTP-FLV (`….flv`), HLS with MPEG-TS segments
 * (`….m3u8`) or RTMP play (`rtmp://host/app/name`). What it receives is published into the hub as
 * `<app>/<name>` like an RTMP publisher or a UDP source (no transcoding: tags pass as they are).
 *
 * Same contract as Source (source.ts): start() once, close(reason) idempotent, state events,
 * stats(). A failure (refused, HTTP error, the upstream closing, silence for `silenceTimeoutMs`)
 * ends the publication (viewers wait for --republish-wait) and the source reconnects with
 * exponential backoff and jitter (1 s doubling to 30 s; a connection that delivered media for 10 s
 * resets it). Each reconnect is a new publication, which the hub joins onto the stream's timeline.
 * HLS: a master playlist is followed to its highest-bandwidth variant; the media playlist is
 * reloaded a target duration after it changed, half of one after it did not (RFC 8216 6.3.4); new
 * segments are fetched in order from three back from the live edge (after a reconnect: after the
 * last segment taken, when the playlist still lists it) and demuxed into one timeline.
 * Skipped media sequence numbers count as lost segments (RC_SOURCE_LOSS); after such a gap, an
 * EXT-X-DISCONTINUITY or a playlist that restarted its sequence, the demuxer continues the timeline
 * instead of comparing clocks (timestamps stay monotonic, continuity counters start afresh). Media
 * arrives a segment at a time, so silence for HLS is three target durations when that is longer
 * than --source-silence-timeout.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Dispatcher, request } from 'undici';
import { RelaycastError } from '../../core/errors.ts';
import { parseForwardUrl } from '../../core/forward-url.ts';
import type { Logger } from '../../core/log.ts';
import type { PullSpec } from '../../core/source-url.ts';
import type { AmfValue } from '../../media/amf/amf0.ts';
import { encodeAmf0 } from '../../media/amf/amf0.ts';
import { FlvDemuxer } from '../../media/flv/demuxer.ts';
import type { StreamHub } from '../../media/hub/hub.ts';
import type { Publication, PublicationEndReason } from '../../media/hub/stream.ts';
import { Lifecycle } from '../../media/lifecycle.ts';
import { TsDemuxer } from '../../media/mpegts/demuxer.ts';
import type { RtmpMessage } from '../../media/rtmp/chunk.ts';
import { RtmpClient } from '../../media/rtmp/client.ts';
import { decodeDataMessage } from '../../media/rtmp/command.ts';
import { type MediaTag, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO } from '../../media/tag.ts';
import {
  BitrateMeter,
  ProblemLog,
  publishSource,
  type SourceEvents,
  type SourceOptions,
  type SourceState,
  type SourceStats,
} from './source.ts';

const TS_COUNTERS = [
  'packets',
  'ccErrors',
  'pesErrors',
  'psiErrors',
  'syncLosses',
  'discontinuities',
] as const;
type TsCounter = (typeof TS_COUNTERS)[number];
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;
const STABLE_AFTER_MS = 10_000;
const VIDEO_CODECS: Record<number, string> = { 7: 'h264', 12: 'hevc' };
const AUDIO_CODECS: Record<number, string> = { 10: 'aac', 2: 'mp3', 14: 'mp3' };

export interface PullSourceOptions extends SourceOptions {
  /** Wait bound for connecting and for each answer (default 10 s). */
  timeoutMs?: number;
  /** For tests: the jitter source. */
  random?: () => number;
}

/**
 * The wait before reconnect number `failures` + 1: the ceiling doubles from 1 s to 30 s, and the
 * wait is drawn from its upper half (`random` in [0, 1)) so that sources which failed together
 * (one upstream server restarting) do not all come back in the same instant.
 */
export function retryDelayMs(failures: number, random: number): number {
  const ceiling = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(failures, 10));
  return Math.round(ceiling / 2 + random * (ceiling / 2));
}

/** What one HLS media playlist says (only what the puller needs). */
export interface HlsMediaPlaylist {
  targetDurationS: number;
  mediaSequence: number;
  segments: { uri: string; sequence: number; discontinuity: boolean }[];
  ended: boolean;
}

/** A master playlist's variants, highest bandwidth first; empty for a media playlist. */
export function hlsVariants(text: string, base: string): string[] {
  const lines = text.split(/\r?\n/);
  const out: { uri: string; bandwidth: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.startsWith('#EXT-X-STREAM-INF:')) continue;
    const bw = Number(/BANDWIDTH=(\d+)/.exec(line)?.[1] ?? 0);
    const uri = lines.slice(i + 1).find((l) => l.trim() && !l.startsWith('#'));
    if (uri) out.push({ uri: new URL(uri.trim(), base).href, bandwidth: bw });
  }
  return out.sort((a, b) => b.bandwidth - a.bandwidth).map((v) => v.uri);
}

export function parseHlsMediaPlaylist(text: string, base: string): HlsMediaPlaylist {
  if (!text.startsWith('#EXTM3U'))
    throw new RelaycastError('RC_SOURCE_UPSTREAM', 'not an HLS playlist (no #EXTM3U)');
  let targetDurationS = 0;
  let sequence = 0;
  let mediaSequence = 0;
  let discontinuity = false;
  let ended = false;
  const segments: HlsMediaPlaylist['segments'] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#EXT-X-TARGETDURATION:')) targetDurationS = Number(line.slice(22)) || 0;
    else if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:'))
      sequence = mediaSequence = Number(line.slice(22)) || 0;
    else if (line === '#EXT-X-DISCONTINUITY') discontinuity = true;
    else if (line === '#EXT-X-ENDLIST') ended = true;
    else if (line.startsWith('#EXT-X-KEY:') && !/METHOD=NONE/.test(line))
      throw new RelaycastError('RC_SOURCE_UPSTREAM', 'encrypted HLS cannot be pulled as a source');
    else if (line.startsWith('#EXT-X-BYTERANGE:'))
      throw new RelaycastError(
        'RC_SOURCE_UPSTREAM',
        'byte-range HLS (EXT-X-BYTERANGE) cannot be pulled as a source; use a playlist of whole segments',
      );
    else if (line.startsWith('#EXT-X-MAP:'))
      throw new RelaycastError(
        'RC_SOURCE_UPSTREAM',
        'fMP4 HLS cannot be pulled as a source; use its MPEG-TS variant',
      );
    else if (!line.startsWith('#')) {
      segments.push({ uri: new URL(line, base).href, sequence: sequence++, discontinuity });
      discontinuity = false;
    }
  }
  return { targetDurationS: targetDurationS || 2, mediaSequence, segments, ended };
}

/**
 * An RTMP data message as an FLV script tag body: only onMetaData (behind '@setDataFrame' or not)
 * is stream data; the rest (|RtmpSampleAccess, onStatus…) is for the player.
 */
function onMetaData(msg: RtmpMessage): Buffer | undefined {
  let values: AmfValue[];
  try {
    values = decodeDataMessage(msg, { maxDepth: 32, maxStringBytes: 65536 });
  } catch {
    return undefined;
  }
  if (values[0] === '@setDataFrame') values.shift();
  return values[0] === 'onMetaData' ? encodeAmf0(values.slice(0, 2)) : undefined;
}

export class PullSource extends Lifecycle<string, SourceEvents> {
  readonly spec: PullSpec;
  readonly options: Required<Omit<PullSourceOptions, 'hlsEncryption'>> & Pick<SourceOptions, 'hlsEncryption'>;
  private readonly hub: StreamHub;
  private readonly log: Logger;
  private readonly problems = new ProblemLog();
  private publication: Publication | undefined;
  private yielded = false;
  private currentState: SourceState = 'starting';
  private abort: AbortController | undefined;
  private client: RtmpClient | undefined;
  private started = false;
  private timer: NodeJS.Timeout | undefined;
  private ts: TsDemuxer | undefined;
  /** HLS: the counters of earlier connections' demuxers (the current one's are added in stats()). */
  private readonly tsEarlier: Record<TsCounter, number> = {
    packets: 0,
    ccErrors: 0,
    pesErrors: 0,
    psiErrors: 0,
    syncLosses: 0,
    discontinuities: 0,
  };
  private chunks = 0;
  private bytes = 0;
  private tags = 0;
  private failures = 0;
  private reconnects = 0;
  private lostSegments = 0;
  /** HLS: the upstream's target duration (segments arrive in bursts that far apart), else 0. */
  private hlsTargetMs = 0;
  /** HLS: the media playlist and the sequence number after the last segment taken. */
  private hlsResume: { url: string; next: number } | undefined;
  private lastPacketAt = 0;
  private connectedAt = 0;
  private readonly bitrate = new BitrateMeter();
  private video: string | undefined;
  private audio: string | undefined;

  constructor(hub: StreamHub, spec: PullSpec, options: PullSourceOptions, log: Logger) {
    super();
    this.hub = hub;
    this.spec = spec;
    this.options = {
      silenceTimeoutMs: 5000,
      problemLogIntervalMs: 10_000,
      recvBufferBytes: 0,
      maxDatagramsPerSecond: 0,
      timeoutMs: 10_000,
      random: Math.random,
      ...options,
    };
    this.log = log.child({ component: 'source', stream: `${options.app}/${options.name}`, source: spec.url });
  }

  get state(): SourceState {
    return this.currentState;
  }

  /** Starts pulling (in the background: an unreachable upstream is retried, not thrown). */
  async start(): Promise<void> {
    if (this.closed)
      throw new RelaycastError('RC_SOURCE_CLOSED', `source ${this.options.name} is closed; create a new one`);
    if (this.started) return;
    this.started = true;
    this.setState('waiting');
    this.timer = setInterval(() => this.tick(), 250);
    this.timer.unref();
    this.loop().catch((err: unknown) => {
      // loop() handles every failure of a connection; this is a bug, not the upstream
      this.log.error({ err }, 'pull source stopped unexpectedly');
      this.close('failed');
    });
    this.log.info({ protocol: this.spec.protocol }, 'pull source started');
  }

  private setState(state: SourceState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state);
  }

  /** Connect, receive until it fails, back off, again; until closed. */
  private async loop(): Promise<void> {
    while (!this.closed) {
      const abort = new AbortController();
      this.abort = abort;
      this.connectedAt = Date.now();
      try {
        if (this.spec.protocol === 'http-flv') await this.pullFlv(abort.signal);
        else if (this.spec.protocol === 'hls') await this.pullHls(abort.signal);
        else await this.pullRtmp(abort.signal);
        if (!this.closed) throw new RelaycastError('RC_SOURCE_UPSTREAM', 'the upstream ended the stream');
      } catch (caught) {
        if (this.closed) return;
        // the watchdog (tick) aborts with its own reason; the abort error it causes says less
        const err: unknown = abort.signal.aborted ? abort.signal.reason : caught;
        const c = (err as { code?: unknown }).code;
        const code = typeof c === 'string' && c.startsWith('RC_') ? c : 'RC_SOURCE_UPSTREAM';
        this.problems.count(code, (err as Error).message);
      } finally {
        abort.abort();
        this.client?.close('source reconnects');
        this.client = undefined;
        this.endPublication();
      }
      if (this.closed) return;
      if (this.lastPacketAt >= this.connectedAt && Date.now() - this.connectedAt >= STABLE_AFTER_MS)
        this.failures = 0;
      const delay = retryDelayMs(this.failures, this.options.random());
      this.failures++;
      this.reconnects++;
      if (this.currentState === 'receiving') this.setState('silent');
      try {
        await sleep(delay, undefined, { signal: this.closeSignal() });
      } catch {
        return; // closed while waiting
      }
    }
  }

  private closeController = new AbortController();
  private closeSignal(): AbortSignal {
    return this.closeController.signal;
  }

  private async pullFlv(signal: AbortSignal): Promise<void> {
    const { res } = await this.get(this.spec.url, signal, this.options.silenceTimeoutMs);
    const demux = new FlvDemuxer();
    for await (const chunk of res.body) {
      if (this.closed) return;
      this.received((chunk as Buffer).length);
      this.publishTags(demux.push(chunk as Buffer));
    }
  }

  private async pullRtmp(signal: AbortSignal): Promise<void> {
    const t = parseForwardUrl(this.spec.url); // the same rtmp(s)://host[:port]/app/name shape
    const client = await RtmpClient.open(t.host, t.port, {
      timeoutMs: this.options.timeoutMs,
      tls: t.scheme === 'rtmps',
      signal,
    });
    this.client = client;
    await client.connect(t.app, t.tcUrl);
    const sid = await client.createStream();
    const done = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.onMedia = (msg) => {
      this.received(msg.payload.length);
      if (msg.typeId === TAG_AUDIO || msg.typeId === TAG_VIDEO)
        this.publishTags([{ type: msg.typeId, timestamp: msg.timestamp, data: msg.payload }]);
      else {
        const meta = onMetaData(msg);
        if (meta) this.publishTags([{ type: TAG_SCRIPT, timestamp: msg.timestamp, data: meta }]);
      }
    };
    await client.play(sid, t.key);
    await done;
    if (client.closeError) throw client.closeError;
  }

  private async pullHls(signal: AbortSignal): Promise<void> {
    let url = this.spec.url;
    let next: number | undefined;
    let unchangedSince = Date.now();
    let hops = 0;
    if (this.ts) for (const k of TS_COUNTERS) this.tsEarlier[k] += this.ts.stats[k];
    const ts = new TsDemuxer();
    this.ts = ts;
    const publish = (tags: MediaTag[]) => {
      this.publishTags(tags);
      for (const p of ts.takeProblems()) this.problems.count(p.code, p.message);
    };
    for (;;) {
      const { text, base } = await this.fetchText(url, signal);
      const variants = hlsVariants(text, base);
      if (variants.length) {
        if (++hops > 3)
          throw new RelaycastError('RC_SOURCE_UPSTREAM', 'the master playlists lead to no media playlist');
        url = variants[0]!; // quality is never changed: the best variant
        continue;
      }
      const pl = parseHlsMediaPlaylist(text, base);
      this.hlsTargetMs = pl.targetDurationS * 1000;
      const last = pl.mediaSequence + pl.segments.length - 1;
      // After a reconnect, continue after the last segment taken when it is still listed (a blip
      // must not replay three segments to viewers); after a longer outage, from the live edge.
      const resume = this.hlsResume;
      if (
        next === undefined &&
        resume?.url === url &&
        resume.next >= pl.mediaSequence &&
        resume.next <= last + 1
      )
        next = resume.next;
      if (next !== undefined && last < next - 1) {
        // The sequence went backwards: the upstream restarted its playlist. Follow it from its live
        // edge; the demuxer continues the timeline.
        this.problems.count(
          'RC_SOURCE_UPSTREAM',
          `the playlist restarted (media sequence ${pl.mediaSequence}, expected ${next}); following it`,
        );
        publish(ts.discontinuity());
        next = undefined;
      }
      // Start near the live edge (3 segments back, as players do), then take every new one.
      next ??= Math.max(pl.mediaSequence, last - 2);
      let fresh = false;
      for (const seg of pl.segments) {
        if (seg.sequence < next) continue;
        if (seg.sequence > next) {
          this.lostSegments += seg.sequence - next;
          this.problems.count(
            'RC_SOURCE_LOSS',
            `${seg.sequence - next} segment(s) left the playlist before they were fetched`,
          );
        }
        // A gap or EXT-X-DISCONTINUITY: what follows is not the continuation of what came before.
        if (seg.sequence > next || seg.discontinuity) publish(ts.discontinuity());
        const { data } = await this.fetchBytes(seg.uri, signal);
        this.received(data.length);
        publish(ts.push(data));
        next = seg.sequence + 1;
        this.hlsResume = { url, next };
        fresh = true;
      }
      if (pl.ended) return;
      if (fresh) unchangedSince = Date.now();
      else if (Date.now() - unchangedSince > this.silenceLimitMs())
        throw new RelaycastError('RC_SOURCE_SILENT', 'the upstream playlist stopped growing');
      // RFC 8216 6.3.4: reload after a target duration when it changed, half of one when it did not
      await sleep(Math.max(250, fresh ? this.hlsTargetMs : this.hlsTargetMs / 2), undefined, { signal });
    }
  }

  /**
   * How long without media means the upstream stalled. HLS arrives a segment at a time, up to a
   * target duration and a half apart (polling at half of it), so its limit is three target
   * durations when that is longer than --source-silence-timeout.
   */
  private silenceLimitMs(): number {
    return Math.max(this.options.silenceTimeoutMs, 3 * this.hlsTargetMs);
  }

  /**
   * GET `url`, following up to 5 redirects (CDNs and HTTP-FLV edges redirect to a node): a 200
   * response and the URL it finally came from (relative HLS URIs resolve against it), else
   * RC_SOURCE_UPSTREAM with the status.
   */
  private async get(
    url: string,
    signal: AbortSignal,
    bodyTimeoutMs: number,
  ): Promise<{ res: Dispatcher.ResponseData; url: string }> {
    let at = url;
    for (let hop = 0; ; hop++) {
      const res = await request(at, {
        signal,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: bodyTimeoutMs,
      });
      if (res.statusCode === 200) return { res, url: at };
      await res.body.dump().catch(() => undefined);
      const location = res.headers.location;
      if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string' && hop < 5) {
        const next = new URL(location, at);
        if (next.protocol === 'http:' || next.protocol === 'https:') {
          at = next.href;
          continue;
        }
      }
      throw new RelaycastError('RC_SOURCE_UPSTREAM', `HTTP ${res.statusCode} for ${new URL(at).pathname}`);
    }
  }

  private async fetchText(url: string, signal: AbortSignal): Promise<{ text: string; base: string }> {
    const { data, url: base } = await this.fetchBytes(url, signal, 1024 * 1024);
    return { text: data.toString('utf8'), base };
  }

  private async fetchBytes(
    url: string,
    signal: AbortSignal,
    max = 64 * 1024 * 1024,
  ): Promise<{ data: Buffer; url: string }> {
    const got = await this.get(url, signal, this.options.timeoutMs);
    const parts: Buffer[] = [];
    let n = 0;
    for await (const chunk of got.res.body) {
      n += (chunk as Buffer).length;
      if (n > max) {
        got.res.body.destroy();
        throw new RelaycastError(
          'RC_SOURCE_UPSTREAM',
          `${new URL(url).pathname} is larger than ${max} bytes`,
        );
      }
      parts.push(chunk as Buffer);
    }
    return { data: Buffer.concat(parts), url: got.url };
  }

  private received(n: number): void {
    this.chunks++;
    this.bytes += n;
    this.bitrate.add(n);
    this.lastPacketAt = Date.now();
  }

  private publishTags(tags: MediaTag[]): void {
    if (tags.length === 0 || this.closed) return;
    for (const tag of tags) {
      if (tag.type === 9 && !this.video)
        this.video = VIDEO_CODECS[tag.data[0]! & 0x0f] ?? String(tag.data[0]! & 0x0f);
      if (tag.type === 8 && !this.audio)
        this.audio = AUDIO_CODECS[tag.data[0]! >> 4] ?? String(tag.data[0]! >> 4);
    }
    // media, not metadata alone, makes a source 'receiving'
    if (this.currentState !== 'receiving' && tags.some((t) => t.type !== TAG_SCRIPT)) {
      if (this.currentState === 'silent') this.yielded = false;
      this.setState('receiving');
    }
    if (this.yielded) return;
    this.publication ??= publishSource(this.hub, this.options, (reason) => this.onPublicationEnd(reason));
    for (const tag of tags) this.publication.pushTag(tag.type, tag.timestamp, tag.data);
    this.tags += tags.length;
  }

  private onPublicationEnd(reason: PublicationEndReason): void {
    this.publication = undefined;
    if (reason === 'takeover' || reason === 'kicked') {
      this.yielded = true;
      this.log.warn({ reason }, 'another publisher took this stream; the source waits until it reconnects');
    }
  }

  private endPublication(): void {
    this.publication?.close('disconnected');
    this.publication = undefined;
  }

  private tick(): void {
    const now = Date.now();
    this.bitrate.tick(now);
    // Connected but nothing arrives (a stalled upstream, or one that accepted and never sends):
    // drop the connection and reconnect. A new connection has --timeout for its first media.
    const abort = this.abort;
    if (abort && !abort.signal.aborted) {
      const fresh = this.lastPacketAt < this.connectedAt;
      const since = fresh ? this.connectedAt : this.lastPacketAt;
      const limit = fresh ? Math.max(this.silenceLimitMs(), this.options.timeoutMs) : this.silenceLimitMs();
      if (now - since > limit) {
        if (this.currentState === 'receiving') this.setState('silent');
        abort.abort(
          new RelaycastError(
            'RC_SOURCE_SILENT',
            `nothing from the upstream for ${now - since} ms${fresh ? ' since connecting' : ''}; reconnecting`,
          ),
        );
        this.client?.close('source silent');
      }
    }
    this.problems.maybeFlush(now, this.options.problemLogIntervalMs, this.log);
  }

  private tsCounters(): Record<TsCounter, number> {
    const out = { ...this.tsEarlier };
    if (this.ts) for (const k of TS_COUNTERS) out[k] += this.ts.stats[k];
    return out;
  }

  stats(): SourceStats {
    const d = this.spec.protocol === 'hls' ? this.tsCounters() : undefined;
    return {
      name: this.options.name,
      url: this.options.url,
      state: this.currentState,
      datagrams: this.chunks,
      bytes: this.bytes,
      packets: d?.packets ?? this.tags,
      ccErrors: d?.ccErrors ?? 0,
      pesErrors: d?.pesErrors ?? 0,
      psiErrors: d?.psiErrors ?? 0,
      syncLosses: d?.syncLosses ?? 0,
      discontinuities: d?.discontinuities ?? 0,
      rtpLost: this.lostSegments,
      rtpReordered: 0,
      floodDrops: 0,
      reconnects: this.reconnects,
      lastPacketAt: this.lastPacketAt,
      bitrateKbps: this.currentState === 'receiving' ? this.bitrate.kbps : 0,
      video: this.video,
      audio: this.audio,
    };
  }

  protected override onClose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.closeController.abort();
    this.abort?.abort();
    this.client?.close('source closed');
    this.client = undefined;
    this.problems.flush(this.log);
    this.publication?.close('closed');
    this.publication = undefined;
    this.setState('closed');
  }
}
