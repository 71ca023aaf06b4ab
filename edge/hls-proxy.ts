/**
 * HLS through edges: playlists and segments come from the origin that packages the stream, with a
 * short-TTL playlist cache, a byte-bounded LRU for segments and request coalescing, so N viewers on
 * an edge cost one origin fetch per playlist refresh and per segment.
 */
import { request } from 'undici';
import type { Metrics } from '../core/metrics.ts';
import type { Registry } from '../core/registry/registry.ts';
import type { HlsPlaylistResult, HlsSource } from '../core/sources.ts';
import type { RouteResolver } from './route.ts';

export interface HlsProxyOptions {
  clusterToken: string | undefined;
  playlistTtlMs: number;
  segmentCacheBytes: number;
  /** Encrypted HLS: where origins store the keys (the registry). */
  keys?: Pick<Registry, 'getHlsKey'>;
  /** Without `keys`: fetch keys from the resolved origin (a --workers process from its relay). */
  keysFromOrigin?: boolean;
}

/** How long an edge keeps a fetched HLS key (keys never change; their registry TTL is longer). */
export const KEY_CACHE_MS = 30_000;

interface CachedPlaylist {
  body: string;
  ended: boolean;
  fetchedAt: number;
  /** origin base the segments come from */
  originUrl: string;
}

/** Byte-bounded LRU (Map keeps insertion order; re-insert on hit). */
export class ByteLru {
  private readonly maxBytes: number;
  private readonly map = new Map<string, Buffer>();
  private bytes = 0;
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }
  get(key: string): Buffer | undefined {
    const v = this.map.get(key);
    if (v) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, value: Buffer): void {
    if (value.length > this.maxBytes) return;
    const old = this.map.get(key);
    if (old) {
      this.bytes -= old.length;
      this.map.delete(key);
    }
    this.map.set(key, value);
    this.bytes += value.length;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.length;
    }
  }
  get size(): number {
    return this.bytes;
  }
}

/**
 * Appends a query (signed-URL token) to every URI line of a media playlist, and to the URI
 * attribute of every EXT-X-KEY (the key endpoint needs the viewer's token too).
 */
export function addQueryToSegments(playlist: string, query: string): string {
  if (!query) return playlist;
  const add = (uri: string) => `${uri}${uri.includes('?') ? `&${query.slice(1)}` : query}`;
  return playlist
    .split('\n')
    .map((line) => {
      if (line.startsWith('#EXT-X-KEY:'))
        return line.replace(/URI="([^"]*)"/, (_m, uri: string) => `URI="${add(uri)}"`);
      return line && !line.startsWith('#') ? add(line) : line;
    })
    .join('\n');
}

interface OriginHistory {
  originUrl: string;
  /** Discontinuities the edge injected that have slid out of the window (added to the origin's count). */
  discBase: number;
  /** First segment sequence served by the current origin after a move; gets EXT-X-DISCONTINUITY. */
  movedAt: number | undefined;
  /** The last playlist's DISCONTINUITY-SEQUENCE and discontinuity count (to carry over a move). */
  lastDiscTotal: number;
}

/**
 * When a stream moves to another origin, that origin's packager starts fresh: the edge marks the
 * boundary with EXT-X-DISCONTINUITY and keeps EXT-X-DISCONTINUITY-SEQUENCE rising, so players
 * resynchronise instead of stalling. (Media sequence numbers already rise across origins.)
 */
export function rewriteForMove(body: string, h: OriginHistory): string {
  const lines = body.split('\n');
  const seqLine = lines.findIndex((l) => l.startsWith('#EXT-X-MEDIA-SEQUENCE:'));
  const discLine = lines.findIndex((l) => l.startsWith('#EXT-X-DISCONTINUITY-SEQUENCE:'));
  const mediaSeq = seqLine >= 0 ? Number(lines[seqLine]!.split(':')[1]) : 0;
  const originDisc = discLine >= 0 ? Number(lines[discLine]!.split(':')[1]) : 0;
  let seq = mediaSeq;
  let injected = false;
  const out: string[] = [];
  let block: string[] = [];
  let inSegments = false;
  for (const line of lines) {
    if (
      !inSegments &&
      (line === '#EXT-X-DISCONTINUITY' ||
        line.startsWith('#EXT-X-PROGRAM-DATE-TIME') ||
        line.startsWith('#EXTINF'))
    )
      inSegments = true;
    if (!inSegments) {
      out.push(line);
    } else if (line && !line.startsWith('#')) {
      if (h.movedAt === seq && !block.includes('#EXT-X-DISCONTINUITY')) {
        out.push('#EXT-X-DISCONTINUITY');
        injected = true;
      }
      out.push(...block, line);
      block = [];
      seq++;
    } else block.push(line);
  }
  out.push(...block);
  // The injected tag slid out of the window: count it in the sequence from now on.
  if (h.movedAt !== undefined && !injected && mediaSeq > h.movedAt) {
    h.discBase++;
    h.movedAt = undefined;
  }
  const total = originDisc + h.discBase;
  if (discLine >= 0) out[out.indexOf(lines[discLine]!)] = `#EXT-X-DISCONTINUITY-SEQUENCE:${total}`;
  h.lastDiscTotal = total + out.filter((l) => l === '#EXT-X-DISCONTINUITY').length;
  return out.join('\n');
}

export class HlsProxy implements HlsSource {
  private readonly history = new Map<string, OriginHistory>();
  private readonly resolver: RouteResolver;
  private readonly options: HlsProxyOptions;
  private readonly metrics: Metrics;
  private readonly playlists = new Map<string, CachedPlaylist>();
  private readonly inflightPlaylists = new Map<string, Promise<CachedPlaylist | undefined>>();
  private readonly segments: ByteLru;
  private readonly inflightSegments = new Map<string, Promise<Buffer | undefined>>();
  /** Which origin served a stream's last playlist, to fetch its segments from the same place. */
  private readonly originFor = new Map<string, string>();
  /** Fetched HLS keys (and the in-flight fetches), by `<app>/<name>:<id>`. */
  private readonly keyCache = new Map<string, { key: Buffer; fetchedAt: number }>();
  private readonly inflightKeys = new Map<string, Promise<Buffer | undefined>>();

  constructor(resolver: RouteResolver, options: HlsProxyOptions, metrics: Metrics) {
    this.resolver = resolver;
    this.options = options;
    this.metrics = metrics;
    this.segments = new ByteLru(options.segmentCacheBytes);
  }

  private headers(): Record<string, string> {
    return this.options.clusterToken ? { authorization: `Bearer ${this.options.clusterToken}` } : {};
  }

  private async fetchPlaylist(app: string, name: string): Promise<CachedPlaylist | undefined> {
    const route = await this.resolver.resolve(app, name);
    if (!route) return undefined;
    const hubName = route.role === 'backup' ? `${name}~backup` : name;
    const base = route.originUrl.replace(/\/$/, '');
    const res = await request(`${base}/${encodeURIComponent(app)}/${encodeURIComponent(hubName)}.m3u8`, {
      headers: this.headers(),
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) return undefined;
    return { body: text, ended: text.includes('#EXT-X-ENDLIST'), fetchedAt: Date.now(), originUrl: base };
  }

  async playlist(app: string, name: string, segmentQuery: string): Promise<HlsPlaylistResult | undefined> {
    const key = `${app}/${name}`;
    const cached = this.playlists.get(key);
    let pl: CachedPlaylist | undefined;
    if (cached && Date.now() - cached.fetchedAt < this.options.playlistTtlMs) {
      this.metrics.hlsRequests.inc({ kind: 'playlist', result: 'hit' });
      pl = cached;
    } else {
      let pending = this.inflightPlaylists.get(key);
      if (pending) this.metrics.hlsRequests.inc({ kind: 'playlist', result: 'coalesced' });
      else {
        this.metrics.hlsRequests.inc({ kind: 'playlist', result: 'miss' });
        pending = this.fetchPlaylist(app, name).finally(() => this.inflightPlaylists.delete(key));
        this.inflightPlaylists.set(key, pending);
      }
      pl = await pending;
      if (pl) {
        this.playlists.set(key, pl);
        this.originFor.set(key, pl.originUrl);
      } else this.playlists.delete(key);
    }
    if (!pl) return undefined;
    return { body: addQueryToSegments(this.continuity(key, pl), segmentQuery), ended: pl.ended };
  }

  private continuity(key: string, pl: CachedPlaylist): string {
    let h = this.history.get(key);
    if (!h) {
      h = { originUrl: pl.originUrl, discBase: 0, movedAt: undefined, lastDiscTotal: 0 };
      this.history.set(key, h);
      if (this.history.size > 10_000) this.history.delete(this.history.keys().next().value!);
    } else if (h.originUrl !== pl.originUrl) {
      // Moved: the new origin's count restarts at 0; continue from what viewers last saw.
      const first = /#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(pl.body);
      const originDisc = Number(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/.exec(pl.body)?.[1] ?? 0);
      h.discBase = h.lastDiscTotal - originDisc;
      h.movedAt = first ? Number(first[1]) : undefined;
      h.originUrl = pl.originUrl;
    }
    return rewriteForMove(pl.body, h);
  }

  async segment(app: string, name: string, file: string): Promise<Buffer | undefined> {
    const key = `${app}/${file}`;
    const hit = this.segments.get(key);
    if (hit) {
      this.metrics.hlsRequests.inc({ kind: 'segment', result: 'hit' });
      return hit;
    }
    let pending = this.inflightSegments.get(key);
    if (pending) {
      this.metrics.hlsRequests.inc({ kind: 'segment', result: 'coalesced' });
      return pending;
    }
    this.metrics.hlsRequests.inc({ kind: 'segment', result: 'miss' });
    pending = (async () => {
      const publicName = name.replace(/~backup$/, '');
      let base = this.originFor.get(`${app}/${publicName}`);
      if (!base) {
        const route = await this.resolver.resolve(app, publicName);
        if (!route) return undefined;
        base = route.originUrl.replace(/\/$/, '');
      }
      const data = await this.fetchFromOrigin(
        `${base}/${encodeURIComponent(app)}/${encodeURIComponent(file)}`,
      );
      if (data) this.segments.set(key, data);
      return data;
    })().finally(() => this.inflightSegments.delete(key));
    this.inflightSegments.set(key, pending);
    return pending;
  }

  /**
   * An HLS key from the registry, cached for KEY_CACHE_MS and fetched once for concurrent viewers.
   * The caller has checked the viewer's token.
   */
  async key(app: string, name: string, id: string): Promise<Buffer | undefined> {
    const store =
      this.options.keys ?? (this.options.keysFromOrigin ? { getHlsKey: this.keyFromOrigin } : undefined);
    if (!store) return undefined;
    const cacheKey = `${app}/${name}:${id}`;
    const now = Date.now();
    const hit = this.keyCache.get(cacheKey);
    if (hit && now - hit.fetchedAt < KEY_CACHE_MS) return hit.key;
    let pending = this.inflightKeys.get(cacheKey);
    if (!pending) {
      pending = store
        .getHlsKey(app, name, id)
        .then((key) => {
          if (key) {
            for (const [k, v] of this.keyCache)
              if (now - v.fetchedAt >= KEY_CACHE_MS) this.keyCache.delete(k);
            this.keyCache.set(cacheKey, { key, fetchedAt: now });
          }
          return key;
        })
        .finally(() => this.inflightKeys.delete(cacheKey));
      this.inflightKeys.set(cacheKey, pending);
    }
    return pending;
  }

  private readonly keyFromOrigin = async (
    app: string,
    name: string,
    id: string,
  ): Promise<Buffer | undefined> => {
    const route = await this.resolver.resolve(app, name.replace(/~backup$/, ''));
    if (!route) return undefined;
    const base = route.originUrl.replace(/\/$/, '');
    return this.fetchFromOrigin(`${base}/${encodeURIComponent(app)}/${encodeURIComponent(name)}/keys/${id}`);
  };

  /** A segment or key from an origin's internal port: its bytes, or undefined unless 200. */
  private async fetchFromOrigin(url: string): Promise<Buffer | undefined> {
    const res = await request(url, { headers: this.headers(), headersTimeout: 15_000, bodyTimeout: 15_000 });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return undefined;
    }
    return Buffer.from(await res.body.arrayBuffer());
  }
}
