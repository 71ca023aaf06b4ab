/**
 * HLS packaging on the origin: one HlsSegmenter per stream, fed by a hub tap (written once per
 * stream, never per viewer). Serves playlists and segments to the viewer HTTP (all-in-one) or to
 * edges over the internal port.
 *
 * Media sequence numbers start at the wall clock in deciseconds. Segments last at least the
 * target duration (≥ 0.2 s), so a stream that moves to another origin (or restarts after the
 * packager forgot it) starts above every sequence number it ever used before: players never see
 * the media sequence rewind, even across origins.
 *
 * With `dir`, files follow what is served: a segment file is deleted once its retention (RFC
 * 8216 6.2.2, see HlsSegmenter) is over, and the stream's directory when the packager forgets the
 * stream. Every path is checked to stay under `dir` before anything is written or deleted.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import { resolveUnder } from '../core/paths.ts';
import type { Registry } from '../core/registry/registry.ts';
import type { HlsPlaylistResult, HlsSource } from '../core/sources.ts';
import { encryptSegmentAes128, newAes128Iv, newAes128Key } from '../media/hls/encryption.ts';
import { renderMediaPlaylist } from '../media/hls/playlist.ts';
import { type HlsSegment, HlsSegmenter } from '../media/hls/segmenter.ts';
import type { StreamHub } from '../media/hub/hub.ts';
import type { HubStream } from '../media/hub/stream.ts';

export interface HlsOptions {
  targetDurationMs: number;
  /** Hard cut for long GOPs; fixes EXT-X-TARGETDURATION (see HlsSegmenter). */
  maxSegmentDurationMs: number;
  windowSegments: number;
  maxWindowBytes: number;
  /** Also write segments and the playlist under this directory. */
  dir: string | undefined;
  /** How long an ended stream's playlist (with ENDLIST) stays available. */
  keepEndedMs: number;
  /** How long a playlist request for a live stream waits for its first segment. */
  firstSegmentWaitMs: number;
  /**
   * AES-128 (RFC 8216 5.2): every segment encrypted once, a new key every `rotationSegments`
   * segments, keys kept in the registry for the key endpoint. TTL: until the last segment under the
   * key has left the window, its retention is over, and an ended playlist is forgotten.
   * `byDefault`: streams are encrypted unless their channel says `none` (--hls-encryption aes-128);
   * otherwise only those whose channel says `aes-128` (the publisher's `hlsEncryption`).
   */
  encryption?: {
    rotationSegments: number;
    keys: Pick<Registry, 'putHlsKey' | 'getHlsKey'>;
    byDefault: boolean;
  };
}

/** The key a segment was encrypted with (its id in key URIs) and its explicit IV. */
interface SegmentKey {
  id: string;
  iv: Buffer;
}

interface Packaged {
  app: string;
  name: string;
  segmenter: HlsSegmenter;
  live: boolean;
  waiters: (() => void)[];
  forgetTimer: NodeJS.Timeout | undefined;
  /** Sequence numbers of the segment files written under `dir`, oldest first. */
  files: number[];
  keys: StreamKeys;
}

/** A stream's encryption state; it outlives segmenters (a republish keeps rotating the same way). */
interface StreamKeys {
  app: string;
  name: string;
  /** The current key and how many segments used it. */
  current: { id: string; key: Buffer; uses: number } | undefined;
  /** Key id and IV of every segment still available. */
  segmentKeys: Map<number, SegmentKey>;
  /** The last key write to the registry; playlists wait for it so no URI names a missing key. */
  stored: Promise<void>;
  /** Whether the stream's current publisher is to be encrypted (its channel, else the default). */
  enabled: () => boolean;
}

export class HlsPackager implements HlsSource {
  private readonly options: HlsOptions;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly streams = new Map<string, Packaged>();

  constructor(hub: StreamHub, options: HlsOptions, metrics: Metrics, log: Logger) {
    this.options = options;
    this.metrics = metrics;
    this.log = log.child({ component: 'hls' });
    hub.on('stream-create', (s) => this.attach(s));
    for (const s of hub.list()) this.attach(s);
  }

  private newSegmenter(keys: StreamKeys, state?: ReturnType<HlsSegmenter['state']>): HlsSegmenter {
    const encryption = this.options.encryption;
    return new HlsSegmenter(
      {
        targetDurationMs: this.options.targetDurationMs,
        maxSegmentDurationMs: this.options.maxSegmentDurationMs,
        windowSegments: this.options.windowSegments,
        maxWindowBytes: this.options.maxWindowBytes,
      },
      state ?? {
        nextSequence: Math.floor(Date.now() / 100),
        discontinuitySequence: 0,
        discontinuityNext: false,
      },
      undefined,
      encryption
        ? (data, sequence) => (keys.enabled() ? this.encrypt(keys, data, sequence) : data)
        : undefined,
    );
  }

  /** Encrypts one segment, rotating the key every `rotationSegments` segments. Keys never reach logs. */
  private encrypt(keys: StreamKeys, data: Buffer, sequence: number): Buffer {
    const enc = this.options.encryption!;
    if (!keys.current || keys.current.uses >= enc.rotationSegments) {
      // Ids are the first sequence number under the key: unique for the stream's whole life.
      keys.current = { id: String(sequence), key: newAes128Key(), uses: 0 };
      const ttlMs =
        (enc.rotationSegments + 2 * this.options.windowSegments + 2) * this.options.maxSegmentDurationMs +
        this.options.keepEndedMs +
        30_000;
      const { id, key } = keys.current;
      keys.stored = enc.keys.putHlsKey(keys.app, keys.name, id, key, ttlMs).catch((err: unknown) => {
        this.log.error(
          { app: keys.app, name: keys.name, keyId: id, err: (err as Error).message },
          'cannot store an HLS key',
        );
      });
    }
    keys.current.uses++;
    const iv = newAes128Iv();
    keys.segmentKeys.set(sequence, { id: keys.current.id, iv });
    return encryptSegmentAes128(data, keys.current.key, iv);
  }

  /** An HLS key for the key endpoint (the caller checks the viewer's token). */
  async key(app: string, name: string, id: string): Promise<Buffer | undefined> {
    return this.options.encryption?.keys.getHlsKey(app, name, id);
  }

  private attach(stream: HubStream): void {
    const byDefault = this.options.encryption?.byDefault ?? false;
    const enabled = () => {
      const own = stream.publisher?.info.hlsEncryption;
      return own ? own === 'aes-128' : byDefault;
    };
    let p = this.streams.get(stream.key);
    if (p) {
      // The stream came back before we forgot it: keep counting, mark the discontinuity.
      if (p.forgetTimer) clearTimeout(p.forgetTimer);
      p.forgetTimer = undefined;
      p.keys.enabled = enabled;
      const state = p.segmenter.state(Date.now());
      p.segmenter = this.newSegmenter(p.keys, { ...state, discontinuityNext: true });
    } else {
      const keys: StreamKeys = {
        app: stream.app,
        name: stream.name,
        current: undefined,
        segmentKeys: new Map(),
        stored: Promise.resolve(),
        enabled,
      };
      p = {
        app: stream.app,
        name: stream.name,
        segmenter: this.newSegmenter(keys),
        live: false,
        waiters: [],
        forgetTimer: undefined,
        files: [],
        keys,
      };
      this.streams.set(stream.key, p);
    }
    const pkg = p;
    pkg.live = stream.live;
    // A packager attached mid-stream starts from the cached GOP.
    for (const tag of stream.snapshot()) this.onSegment(pkg, pkg.segmenter.push(tag, Date.now()));
    stream.addTap({
      onTag: (tag) => {
        pkg.live = true;
        this.onSegment(pkg, pkg.segmenter.push(tag, Date.now()));
      },
      onPublisherChange: () => {
        if (pkg.segmenter.ended)
          pkg.segmenter = this.newSegmenter(pkg.keys, {
            ...pkg.segmenter.state(Date.now()),
            discontinuityNext: true,
          });
        else pkg.segmenter.markDiscontinuity();
        pkg.live = true;
      },
      onUnpublish: () => {
        this.onSegment(pkg, pkg.segmenter.end(Date.now()));
        pkg.live = false;
        this.writeFiles(pkg, undefined);
      },
      onClose: () => {
        pkg.live = false;
        if (!pkg.segmenter.ended) this.onSegment(pkg, pkg.segmenter.end(Date.now()));
        pkg.forgetTimer = setTimeout(() => this.forget(stream.key, pkg), this.options.keepEndedMs);
        pkg.forgetTimer.unref();
      },
    });
  }

  private forget(key: string, pkg: Packaged): void {
    if (this.streams.get(key) !== pkg) return;
    this.streams.delete(key);
    for (const w of pkg.waiters.splice(0)) w();
    if (!this.options.dir) return;
    try {
      rmSync(this.streamDir(pkg), { recursive: true, force: true });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot remove an ended stream from --hls-dir');
    }
  }

  private streamDir(pkg: Packaged): string {
    return resolveUnder(this.options.dir!, pkg.app, pkg.name);
  }

  private onSegment(pkg: Packaged, seg: HlsSegment | undefined): void {
    if (!seg) return;
    this.metrics.hlsSegments.inc(this.metrics.streamLabels.label(pkg.app, pkg.name));
    this.metrics.hlsSegmentDuration.observe(seg.durationMs / 1000);
    for (const w of pkg.waiters.splice(0)) w();
    // Forget the IVs of segments nobody may fetch anymore.
    const now = Date.now();
    for (const sequence of pkg.keys.segmentKeys.keys())
      if (!pkg.segmenter.getSegment(sequence, now)) pkg.keys.segmentKeys.delete(sequence);
    this.writeFiles(pkg, seg);
  }

  /**
   * Writes the new segment and the playlist under `dir`, then deletes the segment files whose
   * retention is over (they are in no playlist anymore and nobody may still ask for them).
   */
  private writeFiles(pkg: Packaged, seg: HlsSegment | undefined): void {
    if (!this.options.dir) return;
    try {
      const dir = this.streamDir(pkg);
      mkdirSync(dir, { recursive: true });
      if (seg) {
        writeFileSync(resolveUnder(dir, segmentFile(pkg.name, seg.sequence)), seg.data);
        pkg.files.push(seg.sequence);
      }
      const tmp = resolveUnder(dir, `.${pkg.name}.m3u8.tmp`);
      writeFileSync(tmp, this.render(pkg, ''));
      renameSync(tmp, resolveUnder(dir, `${pkg.name}.m3u8`));
      const now = Date.now();
      const kept: number[] = [];
      for (const sequence of pkg.files) {
        if (pkg.segmenter.getSegment(sequence, now)) kept.push(sequence);
        else rmSync(resolveUnder(dir, segmentFile(pkg.name, sequence)), { force: true });
      }
      pkg.files = kept;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot write HLS files to --hls-dir');
    }
  }

  private render(pkg: Packaged, segmentQuery: string): string {
    const seg = pkg.segmenter;
    return renderMediaPlaylist(seg.segments, seg.mediaSequence, seg.discontinuitySequence, {
      segmentUri: (s) => `${encodeURIComponent(pkg.name)}-${s.sequence}.ts${segmentQuery}`,
      ended: seg.ended,
      targetDurationSeconds: seg.targetDurationSeconds,
      // Relative to /<app>/<name>.m3u8: /<app>/<name>/keys/<id>, with the viewer's token.
      encryptionFor: (s) => {
        const k = pkg.keys.segmentKeys.get(s.sequence);
        return k && { keyUri: `${encodeURIComponent(pkg.name)}/keys/${k.id}${segmentQuery}`, iv: k.iv };
      },
    });
  }

  async playlist(app: string, name: string, segmentQuery: string): Promise<HlsPlaylistResult | undefined> {
    const pkg = this.streams.get(`${app}/${name}`);
    if (!pkg) return undefined;
    if (pkg.segmenter.segments.length === 0) {
      if (!pkg.live) return undefined;
      // Live but no segment closed yet (first seconds of a stream): wait for it.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.options.firstSegmentWaitMs);
        pkg.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
      if (pkg.segmenter.segments.length === 0) return undefined;
    }
    await pkg.keys.stored;
    return { body: this.render(pkg, segmentQuery), ended: pkg.segmenter.ended };
  }

  async segment(app: string, name: string, file: string): Promise<Buffer | undefined> {
    const pkg = this.streams.get(`${app}/${name}`);
    if (!pkg) return undefined;
    const m = /-(\d+)\.ts$/.exec(file);
    if (!m) return undefined;
    return pkg.segmenter.getSegment(Number(m[1]), Date.now())?.data;
  }

  /**
   * Node shutdown: every stream is forgotten now (waiting playlist requests answer, no forget
   * timer outlives the node). Idempotent.
   */
  close(): void {
    for (const [key, pkg] of [...this.streams]) {
      if (pkg.forgetTimer) clearTimeout(pkg.forgetTimer);
      pkg.forgetTimer = undefined;
      this.forget(key, pkg);
    }
  }

  /** For the admin API. */
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

function segmentFile(name: string, sequence: number): string {
  return `${name}-${sequence}.ts`;
}
