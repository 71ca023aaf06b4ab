/**
 * Low-Latency HLS packaging (fMP4/CMAF parts) for the all-in-one: one LlHlsSegmenter per stream,
 * fed by a hub tap (written once per stream, never per viewer), beside the MPEG-TS packager
 * (origin/hls.ts), which it does not touch.
 *
 * URLs, relative to the stream: `ll.m3u8` (or `<app>/<name>.m3u8` with --hls-variant llhls),
 * `init-<id>.mp4`, `<msn>.m4s` (a whole segment), `<msn>.<part>.m4s` (a part). Blocking reloads
 * (`_HLS_msn`/`_HLS_part`) and requests for the hinted part wait here until the part exists
 * (media/hls/ll-blocking.ts): 400 for requests too far ahead, 503 after three target durations.
 *
 * Media sequence numbers start at the wall clock in deciseconds (as in origin/hls.ts), so a
 * stream that restarts after the packager forgot it never rewinds a player's sequence.
 *
 * Encrypted streams (--hls-encryption aes-128, or their channel's setting) get an EXT-X-KEY per
 * segment; its parts and the whole segment are each one AES-128-CBC resource under the segment's
 * IV, keys at `keys/l<sequence>` (served only to signed viewers, see edge/viewer-http.ts).
 */
import { RelaycastError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import type { Registry } from '../core/registry/registry.ts';
import type { HlsPlaylistResult, LlHlsMedia, LlHlsPlaylistRequest, LlHlsSource } from '../core/sources.ts';
import {
  encryptSegmentAes128,
  newAes128Iv,
  newAes128Key,
  type SegmentEncryption,
} from '../media/hls/encryption.ts';
import {
  type BlockingTimers,
  BlockingWaiters,
  decideBlockingReload,
  decidePartRequest,
  REAL_TIMERS,
} from '../media/hls/ll-blocking.ts';
import { deltaUpdate, renderLlPlaylist, skipBoundarySeconds } from '../media/hls/ll-playlist.ts';
import { LlHlsSegmenter, type LlPart } from '../media/hls/ll-segmenter.ts';
import type { StreamHub } from '../media/hub/hub.ts';
import type { HubStream } from '../media/hub/stream.ts';

export interface LlHlsOptions {
  partTargetMs: number;
  segmentTargetMs: number;
  windowSegments: number;
  /** How long an ended stream's playlist (with ENDLIST) stays available. */
  keepEndedMs: number;
  /**
   * How long a playlist request for a live stream waits for its first complete segment (a
   * blocking reload: its first part).
   */
  firstPartWaitMs: number;
  /**
   * AES-128 (RFC 8216bis 4.4.4.4) as for the MPEG-TS variant (origin/hls.ts): every part encrypted
   * once per stream on its own (AES-128-CBC from the segment's IV, as players decrypt parts), the
   * whole segment likewise when a player asks for it; init segments stay clear. A new key every
   * `rotationSegments` segments, kept in the registry for the key endpoint. `byDefault`: streams
   * are encrypted unless their channel says `none`.
   */
  encryption?: {
    rotationSegments: number;
    keys: Pick<Registry, 'putHlsKey'>;
    byDefault: boolean;
  };
}

/** A segment's key, IV and the encrypted copies of its parts (and of itself, once asked for). */
interface SegmentCrypto {
  id: string;
  key: Buffer;
  iv: Buffer;
  parts: Buffer[];
  whole: Buffer | undefined;
}

/** A stream's keys; they outlive republishes (the rotation goes on). Never logged. */
interface StreamCrypto {
  current: { id: string; key: Buffer; uses: number } | undefined;
  bySegment: Map<number, SegmentCrypto>;
  /** The next segment's key and IV, decided when the previous one opens (for the preload hint). */
  next: { sequence: number; crypto: SegmentCrypto } | undefined;
  /** The last key write to the registry; playlists wait for it so no URI names a missing key. */
  stored: Promise<void>;
}

interface Packaged {
  /** Rendered playlists of the current state, by URI prefix and token query (most viewers share one). */
  rendered: { version: string; byQuery: Map<string, string> };
  stream: HubStream;
  segmenter: LlHlsSegmenter;
  live: boolean;
  waiters: BlockingWaiters;
  forgetTimer: NodeJS.Timeout | undefined;
  crypto: StreamCrypto;
}

const MEDIA_FILE = /^(?:init-(\d{1,15})\.mp4|(\d{1,15})\.m4s|(\d{1,15})\.(\d{1,5})\.m4s)$/;

export class LlHlsPackager implements LlHlsSource {
  private readonly options: LlHlsOptions;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly timers: BlockingTimers;
  private readonly streams = new Map<string, Packaged>();

  constructor(hub: StreamHub, options: LlHlsOptions, metrics: Metrics, log: Logger, timers = REAL_TIMERS) {
    this.options = options;
    this.metrics = metrics;
    this.log = log.child({ component: 'llhls' });
    this.timers = timers;
    hub.on('stream-create', (s) => this.attach(s));
    for (const s of hub.list()) this.attach(s);
  }

  /** Three target durations (RFC 8216bis 6.2.5.2): how long a blocked request may wait. */
  get blockTimeoutMs(): number {
    return 3 * Math.ceil(this.options.segmentTargetMs / 1000) * 1000;
  }

  private attach(stream: HubStream): void {
    let p = this.streams.get(stream.key);
    if (p) {
      // The stream came back before we forgot it: keep counting, mark the discontinuity.
      if (p.forgetTimer) clearTimeout(p.forgetTimer);
      p.forgetTimer = undefined;
      p.stream = stream;
      p.segmenter.markDiscontinuity(Date.now());
    } else {
      const segmenter = new LlHlsSegmenter(
        {
          partTargetMs: this.options.partTargetMs,
          segmentTargetMs: this.options.segmentTargetMs,
          windowSegments: this.options.windowSegments,
        },
        { nextSequence: Math.floor(Date.now() / 100) },
      );
      p = {
        rendered: { version: '', byQuery: new Map() },
        stream,
        segmenter,
        live: false,
        waiters: new BlockingWaiters(this.timers),
        forgetTimer: undefined,
        crypto: { current: undefined, bySegment: new Map(), next: undefined, stored: Promise.resolve() },
      };
      this.streams.set(stream.key, p);
      const created = p;
      segmenter.onPart = (part) => {
        this.encryptPart(created, part);
        created.waiters.notify();
      };
    }
    const pkg = p;
    pkg.live = stream.live;
    for (const tag of stream.snapshot()) pkg.segmenter.push(tag, Date.now());
    stream.addTap({
      onTag: (tag) => {
        pkg.live = true;
        pkg.segmenter.push(tag, Date.now());
      },
      onPublisherChange: () => {
        pkg.segmenter.markDiscontinuity(Date.now());
        pkg.live = true;
      },
      onUnpublish: () => {
        pkg.segmenter.end(Date.now());
        pkg.live = false;
        pkg.waiters.notify();
      },
      onClose: () => {
        pkg.live = false;
        pkg.segmenter.end(Date.now());
        pkg.waiters.notify();
        pkg.forgetTimer = setTimeout(() => this.forget(stream.key, pkg), this.options.keepEndedMs);
        pkg.forgetTimer.unref();
      },
    });
  }

  private forget(key: string, pkg: Packaged): void {
    if (this.streams.get(key) !== pkg) return;
    this.streams.delete(key);
    this.log.debug({ stream: key, held: pkg.waiters.size }, 'LL-HLS stream forgotten');
    pkg.waiters.releaseAll();
  }

  private find(app: string, name: string): Packaged | undefined {
    return this.streams.get(`${app}/${name}`);
  }

  /** Whether the stream's current publisher is to be encrypted (its channel, else the default). */
  private encrypted(pkg: Packaged): boolean {
    const enc = this.options.encryption;
    if (!enc) return false;
    const own = pkg.stream.publisher?.info.hlsEncryption;
    return own ? own === 'aes-128' : enc.byDefault;
  }

  /**
   * A new part: the first of a segment fixes the segment's key and IV (taken from what was decided
   * ahead for the hint) and decides the next segment's; every part is encrypted once, here.
   */
  private encryptPart(pkg: Packaged, part: LlPart): void {
    const c = pkg.crypto;
    if (part.index === 0) {
      const ahead = c.next?.sequence === part.sequence ? c.next.crypto : undefined;
      const on = this.encrypted(pkg);
      if (on) c.bySegment.set(part.sequence, ahead ?? this.newSegmentCrypto(pkg, part.sequence));
      c.next = on
        ? { sequence: part.sequence + 1, crypto: this.newSegmentCrypto(pkg, part.sequence + 1) }
        : undefined;
      // Forget what belongs to segments nobody may fetch any more.
      for (const sequence of c.bySegment.keys())
        if (sequence !== part.sequence && !pkg.segmenter.getSegment(sequence)) c.bySegment.delete(sequence);
    }
    const sc = c.bySegment.get(part.sequence);
    if (sc) sc.parts[part.index] = encryptSegmentAes128(part.data, sc.key, sc.iv);
  }

  /** Key (rotated every `rotationSegments` segments) and a fresh IV for segment `sequence`. */
  private newSegmentCrypto(pkg: Packaged, sequence: number): SegmentCrypto {
    const enc = this.options.encryption!;
    const c = pkg.crypto;
    if (!c.current || c.current.uses >= enc.rotationSegments) {
      // `l` + the first sequence under the key: unique for the stream's life and never one of the
      // MPEG-TS variant's ids (digits only), which live in the same registry space.
      c.current = { id: `l${sequence}`, key: newAes128Key(), uses: 0 };
      const { id, key } = c.current;
      const ttlMs =
        (enc.rotationSegments + 2 * this.options.windowSegments + 3) * this.options.segmentTargetMs +
        this.options.keepEndedMs +
        30_000;
      c.stored = enc.keys.putHlsKey(pkg.stream.app, pkg.stream.name, id, key, ttlMs).catch((err: unknown) => {
        this.log.error(
          { app: pkg.stream.app, name: pkg.stream.name, keyId: id, err: (err as Error).message },
          'cannot store an LL-HLS key',
        );
      });
    }
    c.current.uses++;
    return { id: c.current.id, key: c.current.key, iv: newAes128Iv(), parts: [], whole: undefined };
  }

  private hasMedia(pkg: Packaged): boolean {
    return pkg.segmenter.segments.length > 0 || pkg.segmenter.openSegment !== undefined;
  }

  async playlist(
    app: string,
    name: string,
    req: LlHlsPlaylistRequest,
  ): Promise<HlsPlaylistResult | undefined> {
    const pkg = this.find(app, name);
    if (!pkg) return undefined;
    // The first moments of a stream: a blocking reload waits for a part, a plain request for a
    // complete segment. hls.js calls a playlist of parts only empty (levelEmptyError, "No Segments
    // found in Playlist"), and a player that starts loading only once it has a level (the player
    // page's LL-HLS mode) then never starts: half the page loads right after a publish did not.
    const usable = () => (req.blocking ? this.hasMedia(pkg) : pkg.segmenter.segments.length > 0);
    if (!usable() && pkg.live)
      await pkg.waiters.wait(() => usable() || !pkg.live, this.options.firstPartWaitMs);
    if (!this.hasMedia(pkg)) return undefined;
    const seg = pkg.segmenter;
    if (req.blocking) {
      const blocking = req.blocking;
      const decide = () => decideBlockingReload(seg.position(), blocking, this.options.partTargetMs);
      const first = decide();
      if (first.kind === 'bad-request') {
        this.metrics.hlsRequests.inc({ kind: 'll_playlist', result: 'bad_request' });
        throw new RelaycastError('RC_BAD_REQUEST', `${first.reason}; reload the playlist without it`);
      }
      if (first.kind === 'wait') {
        const ok = await pkg.waiters.wait(() => decide().kind === 'ready', this.blockTimeoutMs);
        if (!ok) {
          this.metrics.hlsRequests.inc({ kind: 'll_playlist', result: 'timeout' });
          throw new RelaycastError(
            'RC_HLS_BLOCKING_TIMEOUT',
            `segment ${blocking.msn}${blocking.part === undefined ? '' : ` part ${blocking.part}`} of ${app}/${name} did not appear within ${this.blockTimeoutMs / 1000} s; reload the playlist without _HLS_msn`,
          );
        }
        this.metrics.hlsRequests.inc({ kind: 'll_playlist', result: 'blocked' });
      } else this.metrics.hlsRequests.inc({ kind: 'll_playlist', result: 'ready' });
    } else this.metrics.hlsRequests.inc({ kind: 'll_playlist', result: 'ready' });
    await pkg.crypto.stored;
    return { body: this.render(pkg, req.uriPrefix, req.segmentQuery, req.skip === true), ended: seg.ended };
  }

  /** Renders once per playlist state and query: a thousand viewers of a part cost one rendering. */
  private render(pkg: Packaged, prefix: string, q: string, skip: boolean): string {
    const seg = pkg.segmenter;
    const next = seg.nextPart;
    // The playlist changes only with a new part, the end of the stream, or a new publisher after it.
    const version = `${next.sequence}.${next.index}.${seg.ended}.${seg.mediaSequence}`;
    const cache = pkg.rendered;
    if (cache.version !== version) {
      cache.version = version;
      cache.byQuery.clear();
    }
    const key = `${prefix}\n${q}\n${skip}`;
    const hit = cache.byQuery.get(key);
    if (hit !== undefined) return hit;
    const full = this.renderNow(pkg, prefix, q);
    const text = skip ? deltaUpdate(full) : full;
    if (cache.byQuery.size < 64) cache.byQuery.set(key, text); // signed URLs: one query per viewer
    return text;
  }

  private renderNow(pkg: Packaged, prefix: string, q: string): string {
    const seg = pkg.segmenter;
    return renderLlPlaylist(
      {
        segments: seg.segments,
        open: seg.openSegment,
        mediaSequence: seg.mediaSequence,
        discontinuitySequence: seg.discontinuitySequence,
        ended: seg.ended,
        partTargetMs: seg.options.partTargetMs,
        targetDurationSeconds: seg.targetDurationSeconds,
        nextPart: seg.nextPart,
        skipUntilSeconds: skipBoundarySeconds(
          seg.targetDurationSeconds,
          seg.options.windowSegments * seg.options.segmentTargetMs,
        ),
      },
      {
        init: (id) => `${prefix}init-${id}.mp4${q}`,
        segment: (sequence) => `${prefix}${sequence}.m4s${q}`,
        part: (sequence, index) => `${prefix}${sequence}.${index}.m4s${q}`,
        // Relative like the parts: /<app>/<name>/keys/<id>, with the viewer's token.
        encryption: (sequence): SegmentEncryption | undefined => {
          const c = pkg.crypto;
          const sc = c.bySegment.get(sequence) ?? (c.next?.sequence === sequence ? c.next.crypto : undefined);
          return sc && { keyUri: `${prefix}keys/${sc.id}${q}`, iv: sc.iv };
        },
      },
    );
  }

  /**
   * An init segment, segment or part by file name. A part that is the next one (a preload hint)
   * is waited for; one that will not come is undefined (404).
   */
  async media(app: string, name: string, file: string): Promise<LlHlsMedia | undefined> {
    const pkg = this.find(app, name);
    const m = MEDIA_FILE.exec(file);
    if (!pkg || !m) return undefined;
    const seg = pkg.segmenter;
    if (m[1] !== undefined) {
      const data = seg.init(Number(m[1]));
      return data && { data, contentType: 'video/mp4' };
    }
    if (m[2] !== undefined) {
      const sequence = Number(m[2]);
      const sc = pkg.crypto.bySegment.get(sequence);
      const parts = sc && seg.getSegment(sequence)?.parts;
      if (sc && parts)
        sc.whole ??= encryptSegmentAes128(Buffer.concat(parts.map((p) => p.data)), sc.key, sc.iv);
      const data = sc ? parts && sc.whole : seg.segmentData(sequence);
      return data && { data, contentType: 'video/iso.segment' };
    }
    const sequence = Number(m[3]);
    const index = Number(m[4]);
    const part = () => seg.getPart(sequence, index);
    const decision = decidePartRequest(
      seg.position(),
      part() !== undefined,
      sequence,
      index,
      this.options.partTargetMs,
    );
    if (decision === 'gone') return undefined;
    if (decision === 'wait') {
      this.metrics.hlsRequests.inc({ kind: 'll_part', result: 'blocked' });
      const ok = await pkg.waiters.wait(
        () =>
          part() !== undefined ||
          decidePartRequest(seg.position(), false, sequence, index, this.options.partTargetMs) === 'gone',
        this.blockTimeoutMs,
      );
      if (!ok)
        throw new RelaycastError(
          'RC_HLS_BLOCKING_TIMEOUT',
          `part ${sequence}.${index} of ${app}/${name} did not appear within ${this.blockTimeoutMs / 1000} s; reload the playlist`,
        );
    }
    const p = part();
    const data = p && (pkg.crypto.bySegment.get(sequence)?.parts[index] ?? p.data);
    return data && { data, contentType: 'video/iso.segment' };
  }

  /** Node shutdown: streams forgotten, held requests answered. Idempotent. */
  close(): void {
    for (const [key, pkg] of [...this.streams]) {
      if (pkg.forgetTimer) clearTimeout(pkg.forgetTimer);
      pkg.forgetTimer = undefined;
      this.forget(key, pkg);
    }
  }

  /** For logs and the admin API. */
  describe(
    app: string,
    name: string,
  ): { mediaSequence: number; segments: number; ended: boolean } | undefined {
    const pkg = this.streams.get(`${app}/${name}`);
    if (!pkg) return undefined;
    return {
      mediaSequence: pkg.segmenter.mediaSequence,
      segments: pkg.segmenter.segments.length,
      ended: pkg.segmenter.ended,
    };
  }
}
