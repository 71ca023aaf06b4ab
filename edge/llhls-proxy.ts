/**
 * Low-Latency HLS through edges: playlists, init segments, segments and parts come from the
 * origin that packages the stream (origin/llhls.ts, on its internal port), with the blocking held
 * here so N viewers on an edge cost the origin one request per part, not N:
 *
 * - Blocking reloads (`_HLS_msn`/`_HLS_part`) are decided against the edge's latest copy of the
 *   playlist (media/hls/ll-blocking.ts) and held in a local waiter list. While anyone waits, one
 *   "pump" per stream asks the origin for the next part with a blocking reload of its own; each
 *   answer replaces the copy and wakes every viewer it satisfies.
 * - Parts (including the hinted one, which the origin holds until it exists), segments and init
 *   segments are fetched once per edge (concurrent requests share the fetch) and kept in a
 *   byte-bounded LRU; their URIs never name other bytes.
 * - URIs in the origin's playlist are relative and tokenless; the edge adds the path prefix and
 *   the viewer's token.
 */
import { request } from 'undici';
import { RelaycastError } from '../core/errors.ts';
import type { Metrics } from '../core/metrics.ts';
import type { HlsPlaylistResult, LlHlsMedia, LlHlsPlaylistRequest, LlHlsSource } from '../core/sources.ts';
import { BlockingWaiters, decideBlockingReload } from '../media/hls/ll-blocking.ts';
import { deltaUpdate } from '../media/hls/ll-playlist.ts';
import type { LlPosition } from '../media/hls/ll-segmenter.ts';
import { type ParsedLlPlaylist, validateLlPlaylist } from '../media/hls/ll-validate.ts';
import { ByteLru } from './hls-proxy.ts';
import type { RouteResolver } from './route.ts';

export interface LlHlsProxyOptions {
  clusterToken: string | undefined;
  /** A playlist copy younger than this answers non-blocking reloads. */
  playlistTtlMs: number;
  cacheBytes: number;
}

interface PlaylistCopy {
  text: string;
  parsed: ParsedLlPlaylist;
  fetchedAt: number;
  /** Where it came from: `<origin internal base>/<app>/<hub name>`. */
  streamUrl: string;
}

/**
 * When a stream moves to another origin (failover, a republish elsewhere, a backup switch), that
 * origin's packager starts afresh: the edge puts EXT-X-DISCONTINUITY before its first segment and
 * keeps EXT-X-DISCONTINUITY-SEQUENCE rising. (Media sequence numbers already rise across origins:
 * they start at the wall clock in deciseconds.)
 */
export interface LlContinuity {
  streamUrl: string;
  /** Discontinuities the edge injected that have slid out of the window. */
  discBase: number;
  /** First segment from the current origin after a move: it gets EXT-X-DISCONTINUITY. */
  movedAt: number | undefined;
  /** DISCONTINUITY-SEQUENCE plus the discontinuities of the last playlist served (carried over a move). */
  lastDiscTotal: number;
}

interface StreamState {
  app: string;
  name: string;
  latest: PlaylistCopy | undefined;
  continuity: LlContinuity | undefined;
  refreshing: Promise<PlaylistCopy | undefined> | undefined;
  pumping: boolean;
  waiters: BlockingWaiters;
  lastUsedMs: number;
}

/** How many streams' state an edge keeps (least recently used dropped). */
const MAX_STREAMS = 10_000;
const PUMP_RETRY_MS = 200;

/** The blocking-reload position a playlist describes. */
export function positionOf(pl: ParsedLlPlaylist): LlPosition {
  return {
    openSequence: pl.mediaSequence + pl.segments.length,
    openParts: pl.openParts.length,
    firstSequence: pl.mediaSequence,
    ended: pl.ended,
    partsOf: (sequence) => {
      const s = pl.segments[sequence - pl.mediaSequence];
      return s && s.parts.length > 0 ? s.parts.length : undefined;
    },
  };
}

/** `<prefix><uri><query>` for every URI in the playlist (URI lines and URI="…" attributes). */
export function rewriteLlUris(text: string, prefix: string, query: string): string {
  if (!prefix && !query) return text;
  const add = (uri: string) => `${prefix}${uri}${query && uri.includes('?') ? `&${query.slice(1)}` : query}`;
  return text
    .split('\n')
    .map((line) => {
      if (line.startsWith('#'))
        return line.replace(/URI="([^"]*)"/, (_m, uri: string) => `URI="${add(uri)}"`);
      return line ? add(line) : line;
    })
    .join('\n');
}

export class LlHlsProxy implements LlHlsSource {
  private readonly resolver: RouteResolver;
  private readonly options: LlHlsProxyOptions;
  private readonly metrics: Metrics;
  private readonly streams = new Map<string, StreamState>();
  private readonly cache: ByteLru;
  private readonly inflight = new Map<string, Promise<Buffer | undefined>>();
  private closed = false;

  constructor(resolver: RouteResolver, options: LlHlsProxyOptions, metrics: Metrics) {
    this.resolver = resolver;
    this.options = options;
    this.metrics = metrics;
    this.cache = new ByteLru(options.cacheBytes);
  }

  private headers(): Record<string, string> {
    return this.options.clusterToken ? { authorization: `Bearer ${this.options.clusterToken}` } : {};
  }

  private state(app: string, name: string): StreamState {
    const key = `${app}/${name}`;
    let st = this.streams.get(key);
    if (st) {
      this.streams.delete(key); // re-insert: Map order is the LRU order
    } else {
      st = {
        app,
        name,
        latest: undefined,
        continuity: undefined,
        refreshing: undefined,
        pumping: false,
        waiters: new BlockingWaiters(),
        lastUsedMs: 0,
      };
      for (const [k, old] of this.streams) {
        if (this.streams.size < MAX_STREAMS) break;
        if (old.waiters.size > 0 || old.pumping) continue;
        this.streams.delete(k);
      }
    }
    this.streams.set(key, st);
    st.lastUsedMs = Date.now();
    return st;
  }

  private async streamUrl(app: string, name: string): Promise<string | undefined> {
    const route = await this.resolver.resolve(app, name);
    if (!route) return undefined;
    const hubName = route.role === 'backup' ? `${name}~backup` : name;
    return `${route.originUrl.replace(/\/$/, '')}/${encodeURIComponent(app)}/${encodeURIComponent(hubName)}`;
  }

  /** One origin playlist request (blocking when `blocking` is given); undefined unless 200. */
  private async fetchPlaylist(
    st: StreamState,
    blocking?: { msn: number; part: number },
  ): Promise<PlaylistCopy | undefined> {
    // Resolved for every playlist fetch (as for MPEG-TS): a stream that moved is followed at once.
    const streamUrl = await this.streamUrl(st.app, st.name);
    if (!streamUrl) {
      st.latest = undefined;
      return undefined;
    }
    const q = blocking ? `?_HLS_msn=${blocking.msn}&_HLS_part=${blocking.part}` : '';
    const res = await request(`${streamUrl}/ll.m3u8${q}`, {
      headers: this.headers(),
      headersTimeout: 30_000,
      bodyTimeout: 15_000,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) {
      if (res.statusCode === 404) st.latest = undefined;
      return undefined;
    }
    const copy: PlaylistCopy = {
      text,
      parsed: validateLlPlaylist(text).playlist,
      fetchedAt: Date.now(),
      streamUrl,
    };
    // Answers to concurrent requests may arrive out of order: keep the newest.
    const cur = st.latest;
    if (!cur || cur.streamUrl !== streamUrl || !older(copy.parsed, cur.parsed)) {
      st.latest = copy;
      this.follow(st, copy);
    }
    return st.latest;
  }

  /** Notes a move to another origin (a copy from another stream URL). */
  private follow(st: StreamState, copy: PlaylistCopy): void {
    const c = st.continuity;
    if (!c) {
      st.continuity = { streamUrl: copy.streamUrl, discBase: 0, movedAt: undefined, lastDiscTotal: 0 };
      return;
    }
    if (c.streamUrl === copy.streamUrl) return;
    // The new origin counts discontinuities from 0: go on from what viewers last saw.
    c.discBase = c.lastDiscTotal - copy.parsed.discontinuitySequence;
    c.movedAt = copy.parsed.mediaSequence;
    c.streamUrl = copy.streamUrl;
  }

  private refresh(st: StreamState): Promise<PlaylistCopy | undefined> {
    if (!st.refreshing) {
      this.metrics.hlsRequests.inc({ kind: 'll_playlist', result: 'miss' });
      st.refreshing = this.fetchPlaylist(st)
        .catch(() => undefined)
        .finally(() => {
          st.refreshing = undefined;
        });
    } else this.metrics.hlsRequests.inc({ kind: 'll_playlist', result: 'coalesced' });
    return st.refreshing;
  }

  /** While anyone waits: ask the origin for the next part, one blocking request at a time. */
  private pump(st: StreamState): void {
    if (st.pumping || this.closed) return;
    st.pumping = true;
    void (async () => {
      try {
        while (st.waiters.size > 0 && !this.closed) {
          const hint = st.latest?.parsed.preloadHint;
          const m = hint ? /(\d+)\.(\d+)\.m4s/.exec(hint) : null;
          let got: PlaylistCopy | undefined;
          try {
            got = m
              ? await this.fetchPlaylist(st, { msn: Number(m[1]), part: Number(m[2]) })
              : await this.fetchPlaylist(st);
          } catch {
            got = undefined;
          }
          st.waiters.notify();
          if (!got) await new Promise((r) => setTimeout(r, PUMP_RETRY_MS));
          if (!st.latest || st.latest.parsed.ended) {
            st.waiters.releaseAll();
            break;
          }
        }
      } finally {
        st.pumping = false;
      }
    })();
  }

  async playlist(
    app: string,
    name: string,
    req: LlHlsPlaylistRequest,
  ): Promise<HlsPlaylistResult | undefined> {
    const st = this.state(app, name);
    const fresh = () => st.latest && Date.now() - st.latest.fetchedAt < this.options.playlistTtlMs;
    if (!st.latest || (!req.blocking && !fresh())) await this.refresh(st);
    else if (!req.blocking) this.metrics.hlsRequests.inc({ kind: 'll_playlist', result: 'hit' });
    if (!st.latest) return undefined;
    const blocking = req.blocking;
    if (blocking) {
      const partTargetMs = () => (st.latest?.parsed.partTarget ?? 0.333) * 1000;
      const decide = () =>
        st.latest
          ? decideBlockingReload(positionOf(st.latest.parsed), blocking, partTargetMs()).kind
          : 'ready';
      let d = decide();
      // Our copy may be behind the origin: look again before calling a request too far ahead.
      if (d === 'bad-request' && !fresh()) {
        await this.refresh(st);
        d = decide();
      }
      if (d === 'bad-request') {
        const reason = st.latest
          ? decideBlockingReload(positionOf(st.latest.parsed), blocking, partTargetMs())
          : undefined;
        throw new RelaycastError(
          'RC_BAD_REQUEST',
          `${reason?.kind === 'bad-request' ? reason.reason : 'request too far ahead'}; reload the playlist without it`,
        );
      }
      if (d === 'wait') {
        this.metrics.hlsRequests.inc({ kind: 'll_playlist', result: 'blocked' });
        const timeoutMs = 3 * (st.latest.parsed.targetDuration || 2) * 1000;
        const wait = st.waiters.wait(() => decide() === 'ready', timeoutMs);
        this.pump(st);
        if (!(await wait))
          throw new RelaycastError(
            'RC_HLS_BLOCKING_TIMEOUT',
            `segment ${blocking.msn}${blocking.part === undefined ? '' : ` part ${blocking.part}`} of ${app}/${name} did not appear within ${timeoutMs / 1000} s; reload the playlist without _HLS_msn`,
          );
      } else this.metrics.hlsRequests.inc({ kind: 'll_playlist', result: 'hit' });
    }
    if (!st.latest) return undefined;
    const body = st.continuity ? withContinuity(st.latest.text, st.continuity) : st.latest.text;
    const text = rewriteLlUris(body, req.uriPrefix, req.segmentQuery);
    return { body: req.skip ? deltaUpdate(text) : text, ended: st.latest.parsed.ended };
  }

  async media(app: string, name: string, file: string): Promise<LlHlsMedia | undefined> {
    const key = `${app}/${name}/${file}`;
    const contentType = file.endsWith('.mp4') ? 'video/mp4' : 'video/iso.segment';
    const hit = this.cache.get(key);
    if (hit) {
      this.metrics.hlsRequests.inc({ kind: 'll_part', result: 'hit' });
      return { data: hit, contentType };
    }
    let pending = this.inflight.get(key);
    if (pending) this.metrics.hlsRequests.inc({ kind: 'll_part', result: 'coalesced' });
    else {
      this.metrics.hlsRequests.inc({ kind: 'll_part', result: 'miss' });
      pending = (async () => {
        const st = this.state(app, name);
        const streamUrl = st.latest?.streamUrl ?? (await this.streamUrl(app, name));
        if (!streamUrl) return undefined;
        // The origin holds a hinted part until it exists (up to three target durations).
        const res = await request(`${streamUrl}/${file}`, {
          headers: this.headers(),
          headersTimeout: 30_000,
          bodyTimeout: 15_000,
        });
        if (res.statusCode !== 200) {
          await res.body.dump();
          if (res.statusCode === 503)
            throw new RelaycastError(
              'RC_HLS_BLOCKING_TIMEOUT',
              `${file} of ${app}/${name} did not appear in time`,
            );
          return undefined;
        }
        const data = Buffer.from(await res.body.arrayBuffer());
        this.cache.set(key, data);
        return data;
      })().finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const data = await pending;
    return data && { data, contentType };
  }

  /** Held requests answer now (with what the edge has); no new pumps start. Idempotent. */
  close(): void {
    this.closed = true;
    for (const st of this.streams.values()) st.waiters.releaseAll();
  }
}

/**
 * The playlist with the edge's discontinuity bookkeeping applied (see LlContinuity): the count in
 * EXT-X-DISCONTINUITY-SEQUENCE raised by `discBase`, and EXT-X-DISCONTINUITY put before the tags
 * of segment `movedAt` (before its first part) while it is in the window.
 */
export function withContinuity(text: string, c: LlContinuity): string {
  const lines = text.split('\n');
  const out: string[] = [];
  let sequence = 0;
  let inSegments = false;
  let blockStart = -1;
  let injected = false;
  for (const line of lines) {
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) sequence = Number(line.slice(22));
    const segmentTag =
      line === '#EXT-X-DISCONTINUITY' ||
      line.startsWith('#EXT-X-MAP:') ||
      line.startsWith('#EXT-X-PROGRAM-DATE-TIME:') ||
      line.startsWith('#EXT-X-PART:') ||
      line.startsWith('#EXTINF:');
    if (segmentTag) inSegments = true;
    // A segment's block starts at its first tag after the previous segment's URI.
    if (inSegments && blockStart < 0 && (segmentTag || line.startsWith('#EXT-X-PRELOAD-HINT'))) {
      blockStart = out.length;
      if (c.movedAt === sequence && line !== '#EXT-X-DISCONTINUITY' && segmentTag) {
        out.push('#EXT-X-DISCONTINUITY');
        injected = true;
      }
    }
    out.push(line);
    if (inSegments && line && !line.startsWith('#')) {
      sequence++;
      blockStart = -1;
    }
  }
  const originDisc = Number(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
  // The injected tag slid out of the window: count it in the sequence from now on.
  const first = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
  if (c.movedAt !== undefined && !injected && first > c.movedAt) {
    c.discBase++;
    c.movedAt = undefined;
  }
  const total = originDisc + c.discBase;
  const at = out.findIndex((l) => l.startsWith('#EXT-X-DISCONTINUITY-SEQUENCE:'));
  if (at >= 0) out[at] = `#EXT-X-DISCONTINUITY-SEQUENCE:${total}`;
  c.lastDiscTotal = total + out.filter((l) => l === '#EXT-X-DISCONTINUITY').length;
  return out.join('\n');
}

/** Whether `a` describes an earlier state of the stream than `b`. */
function older(a: ParsedLlPlaylist, b: ParsedLlPlaylist): boolean {
  const pa = positionOf(a);
  const pb = positionOf(b);
  if (pa.openSequence !== pb.openSequence) return pa.openSequence < pb.openSequence;
  if (pa.openParts !== pb.openParts) return pa.openParts < pb.openParts;
  return !a.ended && b.ended;
}
