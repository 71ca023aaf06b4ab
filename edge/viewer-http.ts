/**
 * Viewer-facing HTTP on the edge (and the all-in-one): HTTP-FLV, HLS, the player page and the
 * index of live streams. Nothing administrative is served here.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { errorCode, errorStatus, RelaycastError } from '../core/errors.ts';
import { serveFlv } from '../core/http-flv.ts';
import {
  CORS_HEADERS,
  parseBearer,
  parseStreamPath,
  readBody,
  sendError,
  sendJson,
  sendText,
} from '../core/http-util.ts';
import type { Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import { validateStreamId } from '../core/names.ts';
import { ConnectionLimiter, listenOn } from '../core/net-limits.ts';
import { normaliseIp, tokenQuery, verifyPlay } from '../core/signing.ts';
import type { HlsSource, LlHlsSource, StreamSource } from '../core/sources.ts';
import { parseBlockingQuery } from '../media/hls/ll-blocking.ts';
import { wantsDeltaUpdate } from '../media/hls/ll-playlist.ts';
import type { HubStream } from '../media/hub/stream.ts';
import { PAGE_CSP, renderIndexPage, renderPlayerPage, servePlayerAsset } from './player.ts';
import { MAX_OFFER_BYTES } from './webrtc/offer.ts';
import type { WhepServer } from './webrtc/whep.ts';

/** What a draining node tells new viewers (HTTP-FLV, HLS, RTMP play), with RC_NODE_DRAINING. */
export const DRAINING_MESSAGE =
  'this node is draining (an operator ran relaycast node drain); retry on another node';

export interface ViewerHttpOptions {
  host: string;
  port: number;
  /** Listen with SO_REUSEPORT (a --workers thread: every worker listens on the same port). */
  reusePort?: boolean;
  playAuth: 'open' | 'signed';
  playSecrets: string[];
  /** --play-bind-ip: only tokens bound to the viewer's address. */
  playBindIp?: boolean;
  maxViewersPerNode: number;
  maxViewersPerStream: number;
  maxConnectionsPerIp: number;
  /** Lists live streams for the index page. */
  listStreams: () => Promise<{ app: string; name: string }[]>;
  viewerCount: () => number;
  /** WHEP sessions (POST /<app>/<name>/whep); absent = WebRTC playback off here. */
  whep?: WhepServer;
  /** Why WHEP is off, for the 503 answer. */
  whepUnavailable?: string;
  /**
   * --workers viewer threads: WHEP requests go to the main thread, which holds the node's one
   * UDP port and the sessions (a loopback ViewerHttpServer with `trustedClient`), as they came.
   */
  whepProxy?: { url: string; token: string };
  /**
   * That loopback server: requests carrying `x-relaycast-client: <token> <address>` are the
   * viewer at <address> (signed URLs bound to it, WebRTC candidates), relayed by a worker.
   */
  trustedClient?: { token: string };
  /** Low-Latency HLS (all-in-one): /<app>/<name>/ll.m3u8 and its init, segments and parts. */
  llhls?: LlHlsSource;
  /** What /<app>/<name>.m3u8 serves (default ts); .ts.m3u8 is always MPEG-TS. */
  hlsVariant?: 'ts' | 'llhls';
  /** Request head size and timeouts (defaults 16 KiB, 15 s, 30 s). */
  maxHeaderBytes?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/** `/<app>/<name>/whep` (POST an offer) and `/<app>/<name>/whep/<session>` (DELETE). */
const WHEP_PATH = /^\/(.+)\/([^/]+)\/whep(?:\/([0-9a-f]{24}))?$/;
/** CORS for WHEP: browsers send POST with application/sdp and read Location (WHEP draft 4.1). */
const WHEP_CORS: Record<string, string> = {
  ...CORS_HEADERS,
  'Access-Control-Allow-Methods': 'POST, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type',
  'Access-Control-Expose-Headers': 'Location, Content-Type',
};

/** `/<app>/<name>/keys/<id>`: an encrypted-HLS key (ids: a sequence number, `l` before it for LL-HLS). */
const KEY_PATH = /^\/([^/]+)\/([^/]+)\/keys\/(l?\d{1,20})$/;
/** `/<app>/<name>/<file>`: an LL-HLS playlist, init segment, segment or part. */
const LL_PATH = /^\/(.+)\/([^/]+)\/(ll\.m3u8|init-\d{1,15}\.mp4|\d{1,15}(?:\.\d{1,5})?\.m4s)$/;
/** Key requests per client address per window: players need one per rotation; guessing needs many. */
export const KEY_REQUESTS_PER_WINDOW = 30;
export const KEY_RATE_WINDOW_MS = 10_000;

/** Fixed-window counter per client address, for the key endpoint. */
export class KeyRateLimiter {
  private readonly windows = new Map<string, { startMs: number; count: number }>();
  private readonly max: number;
  private readonly windowMs: number;
  constructor(max = KEY_REQUESTS_PER_WINDOW, windowMs = KEY_RATE_WINDOW_MS) {
    this.max = max;
    this.windowMs = windowMs;
  }
  /** Counts one request; false when the address is over its budget for the current window. */
  allow(ip: string, nowMs = Date.now()): boolean {
    let w = this.windows.get(ip);
    if (!w || nowMs - w.startMs >= this.windowMs) {
      if (this.windows.size >= 10_000)
        for (const [k, v] of this.windows) if (nowMs - v.startMs >= this.windowMs) this.windows.delete(k);
      w = { startMs: nowMs, count: 0 };
      this.windows.set(ip, w);
    }
    w.count++;
    return w.count <= this.max;
  }
}

export class ViewerHttpServer {
  readonly server: Server;
  private readonly options: ViewerHttpOptions;
  private readonly streams: StreamSource;
  private readonly hls: HlsSource | undefined;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly limiter: ConnectionLimiter;
  private readonly keyLimiter = new KeyRateLimiter();
  draining = false;

  constructor(
    streams: StreamSource,
    hls: HlsSource | undefined,
    options: ViewerHttpOptions,
    metrics: Metrics,
    log: Logger,
  ) {
    this.streams = streams;
    this.hls = hls;
    this.options = options;
    this.metrics = metrics;
    this.log = log.child({ component: 'viewer-http' });
    this.limiter = new ConnectionLimiter(options.maxConnectionsPerIp);
    this.server = createServer(
      {
        requestTimeout: options.requestTimeoutMs ?? 30_000,
        headersTimeout: options.headersTimeoutMs ?? 15_000,
        maxHeaderSize: options.maxHeaderBytes ?? 16 * 1024,
      },
      (req, res) =>
        this.handle(req, res).catch((err: unknown) => {
          this.log.error({ err }, 'viewer request failed');
          if (!res.headersSent) sendError(res, 500, 'RC_INTERNAL', 'internal error', true);
          else res.destroy();
        }),
    );
    this.server.on('connection', (socket) => {
      const ip = socket.remoteAddress ?? '';
      if (!this.limiter.acquire(ip)) {
        socket.destroy();
        return;
      }
      socket.once('close', () => this.limiter.release(ip));
    });
  }

  listen(): Promise<number> {
    return listenOn(this.server, this.options.port, this.options.host, this.options.reusePort);
  }

  private authorize(
    app: string,
    name: string,
    query: URLSearchParams,
    req: IncomingMessage,
    protocol: string,
  ): void {
    if (this.options.playAuth !== 'signed') return;
    try {
      verifyPlay(
        this.options.playSecrets,
        app,
        name,
        query,
        this.clientIp(req),
        Date.now(),
        this.options.playBindIp,
      );
    } catch (err) {
      this.metrics.authFailures.inc({ surface: 'play', reason: errorCode(err) });
      this.log.info({ app, name, protocol, code: errorCode(err) }, 'play refused');
      throw err;
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://viewer');
    const whep = WHEP_PATH.exec(url.pathname);
    if (whep) {
      try {
        if (this.options.whepProxy && req.method !== 'OPTIONS') await this.relayWhep(req, res, url);
        else await this.serveWhep(req, res, whep, url);
      } catch (err) {
        const { code, http: status } = errorStatus(err);
        if (status === 500) this.log.error({ err }, 'whep request failed');
        if (!res.headersSent)
          sendJson(res, status, { error: { code, message: (err as Error).message } }, WHEP_CORS);
        else res.destroy();
      }
      return;
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...CORS_HEADERS, 'Access-Control-Max-Age': '86400' });
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, 405, 'RC_BAD_REQUEST', 'only GET and HEAD are served here', true);
      return;
    }
    const path = url.pathname;
    if (path === '/' || path === '/index.html') {
      const listed = this.options.playAuth !== 'signed';
      const streams = listed ? await this.options.listStreams() : [];
      sendText(res, 200, renderIndexPage(streams, listed), 'text/html; charset=utf-8', {
        'Cache-Control': 'no-cache',
        'Content-Security-Policy': PAGE_CSP,
        'X-Content-Type-Options': 'nosniff',
      });
      return;
    }
    if (path.startsWith('/play/')) {
      const rest = path.slice('/play/'.length);
      const slash = rest.lastIndexOf('/');
      if (slash <= 0) {
        sendError(res, 404, 'RC_NOT_FOUND', 'player URLs look like /play/<app>/<name>');
        return;
      }
      let app: string;
      let name: string;
      try {
        app = decodeURIComponent(rest.slice(0, slash));
        name = decodeURIComponent(rest.slice(slash + 1));
        validateStreamId(app, name);
      } catch (err) {
        sendError(
          res,
          400,
          'RC_NAME_INVALID',
          err instanceof RelaycastError ? err.message : 'the path is not valid percent-encoding',
        );
        return;
      }
      sendText(
        res,
        200,
        renderPlayerPage(app, name, url.search, this.options.llhls !== undefined),
        'text/html; charset=utf-8',
        {
          'Cache-Control': 'no-cache',
          'Content-Security-Policy': PAGE_CSP,
          'X-Content-Type-Options': 'nosniff',
        },
      );
      return;
    }
    if (path.startsWith('/_player/')) {
      servePlayerAsset(path.slice('/_player/'.length), req, res);
      return;
    }
    const keyPath = KEY_PATH.exec(path);
    if (keyPath) {
      try {
        await this.serveKey(req, res, keyPath, url.searchParams);
      } catch (err) {
        this.fail(res, err, 'key request failed');
      }
      return;
    }
    const llPath = LL_PATH.exec(path);
    if (llPath && this.options.llhls) {
      try {
        await this.serveLl(req, res, llPath, url.searchParams);
      } catch (err) {
        this.fail(res, err, 'LL-HLS request failed');
      }
      return;
    }
    try {
      const target = parseStreamPath(path);
      if (!target) {
        sendError(res, 404, 'RC_NOT_FOUND', 'not found; play URLs are /<app>/<name>.flv or .m3u8', true);
        return;
      }
      if (target.ext === 'flv') await this.serveFlv(req, res, target.app, target.name, url.searchParams);
      else if (target.ext === 'm3u8' && target.name.endsWith('.ts') && target.name.length > 3)
        await this.servePlaylist(req, res, target.app, target.name.slice(0, -3), url.searchParams);
      else if (target.ext === 'm3u8' && this.options.hlsVariant === 'llhls' && this.options.llhls)
        await this.serveLlPlaylist(
          req,
          res,
          target.app,
          target.name,
          `${encodeURIComponent(target.name)}/`,
          url.searchParams,
          // LL-HLS off where the stream is packaged (an origin with --hls-part-target 0): classic.
          () => this.servePlaylist(req, res, target.app, target.name, url.searchParams),
        );
      else if (target.ext === 'm3u8')
        await this.servePlaylist(req, res, target.app, target.name, url.searchParams);
      else if (target.ext === 'ts')
        await this.serveSegment(req, res, target.app, target.name, url.searchParams);
      else sendError(res, 404, 'RC_NOT_FOUND', `unknown extension .${target.ext}`, true);
    } catch (err) {
      this.fail(res, err, 'viewer request failed');
    }
  }

  /**
   * WHEP (draft-ietf-wish-whep): POST an SDP offer → 201 + Location + SDP answer; DELETE the
   * Location → 200. A signed-play token may come in the query or as `Authorization: Bearer
   * <the query's expires=…&sig=…>` (WHEP players put tokens in that header).
   */
  private async serveWhep(
    req: IncomingMessage,
    res: ServerResponse,
    match: RegExpExecArray,
    url: URL,
  ): Promise<void> {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        ...WHEP_CORS,
        'Access-Control-Max-Age': '86400',
        'Accept-Post': 'application/sdp',
      });
      res.end();
      return;
    }
    let app: string;
    let name: string;
    try {
      app = decodeURIComponent(match[1]!);
      name = decodeURIComponent(match[2]!);
      validateStreamId(app, name);
    } catch (err) {
      throw err instanceof RelaycastError
        ? err
        : new RelaycastError('RC_NAME_INVALID', 'the path is not valid percent-encoding');
    }
    const sessionId = match[3];
    const whep = this.options.whep;
    if (!whep)
      throw new RelaycastError(
        'RC_WEBRTC_UNAVAILABLE',
        this.options.whepUnavailable ?? 'WebRTC playback is off on this node (--webrtc-udp-port 0)',
      );
    if (sessionId) {
      if (req.method === 'PATCH') {
        // No trickle ICE or ICE restart: every candidate is in the answer (WHEP draft 4.3).
        res.writeHead(405, { ...WHEP_CORS, Allow: 'DELETE' });
        res.end();
        return;
      }
      if (req.method !== 'DELETE')
        throw new RelaycastError('RC_BAD_REQUEST', 'a WHEP session URL takes DELETE (to end it) only');
      whep.delete(app, name, sessionId);
      res.writeHead(200, WHEP_CORS);
      res.end();
      return;
    }
    if (req.method !== 'POST')
      throw new RelaycastError('RC_BAD_REQUEST', 'WHEP: POST an SDP offer (Content-Type: application/sdp)');
    const query = new URLSearchParams(url.searchParams);
    const bearer = parseBearer(req.headers.authorization);
    if (bearer && !query.has('sig'))
      for (const [k, v] of new URLSearchParams(bearer.replace(/^\?/, ''))) query.set(k, v);
    this.authorize(app, name, query, req, 'webrtc');
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/sdp')
      throw new RelaycastError(
        'RC_WEBRTC_SDP_INVALID',
        `WHEP offers are Content-Type application/sdp (got ${type || 'none'})`,
      );
    let offer: string;
    try {
      offer = (await readBody(req, MAX_OFFER_BYTES)).toString('utf8');
    } catch (err) {
      throw new RelaycastError('RC_WEBRTC_SDP_INVALID', `the offer is larger than ${MAX_OFFER_BYTES} bytes`, {
        cause: err,
      });
    }
    whep.checkOffer(offer);
    this.checkLimits(undefined, 'webrtc');
    whep.checkCapacity();
    const stream = await this.acquire(app, name, 'webrtc');
    if (req.socket.destroyed) return;
    const { id, sdp } = await whep.create(stream, offer, this.clientIp(req));
    res.writeHead(201, {
      ...WHEP_CORS,
      'Content-Type': 'application/sdp',
      'Content-Length': Buffer.byteLength(sdp),
      Location: `${url.pathname}/${id}`,
      'Cache-Control': 'no-store',
    });
    res.end(sdp);
  }

  /** The viewer's address: the socket's, or the one a --workers process relayed (see trustedClient). */
  private clientIp(req: IncomingMessage): string | undefined {
    const trusted = this.options.trustedClient;
    const relayed = req.headers['x-relaycast-client'];
    if (trusted && typeof relayed === 'string') {
      const [token, ip] = relayed.split(' ');
      const given = Buffer.from(token ?? '');
      const want = Buffer.from(trusted.token);
      if (ip && given.length === want.length && timingSafeEqual(given, want)) return normaliseIp(ip);
    }
    return normaliseIp(req.socket.remoteAddress);
  }

  /**
   * A WHEP request in a --workers viewer process: relayed to the main thread as it came (method,
   * path, query, Content-Type, Authorization, the offer) with the viewer's address; the answer
   * (status, Location, SDP or error) comes back unchanged, so any worker can take the DELETE.
   */
  private async relayWhep(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const proxy = this.options.whepProxy!;
    const body =
      req.method === 'POST' ? await readBody(req, MAX_OFFER_BYTES).catch(() => undefined) : undefined;
    if (req.method === 'POST' && !body)
      throw new RelaycastError('RC_WEBRTC_SDP_INVALID', `the offer is larger than ${MAX_OFFER_BYTES} bytes`);
    const headers: Record<string, string> = {
      'x-relaycast-client': `${proxy.token} ${normaliseIp(req.socket.remoteAddress) ?? ''}`,
    };
    for (const h of ['content-type', 'authorization']) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    // A viewer that hangs up mid-POST cancels the relayed request too, so the main thread does not
    // build a session nobody will connect to (it checks its own socket before creating one).
    const gone = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) gone.abort();
    };
    res.once('close', onClose);
    let answer: Response;
    let out: Buffer;
    try {
      answer = await fetch(`${proxy.url}${url.pathname}${url.search}`, {
        method: req.method ?? 'GET',
        headers,
        ...(body ? { body } : {}),
        signal: AbortSignal.any([AbortSignal.timeout(30_000), gone.signal]),
      });
      out = Buffer.from(await answer.arrayBuffer());
    } catch (err) {
      if (gone.signal.aborted) return;
      throw new RelaycastError(
        'RC_WEBRTC_UNAVAILABLE',
        'the main thread did not answer the WHEP request; retry',
        {
          cause: err,
        },
      );
    } finally {
      res.off('close', onClose);
    }
    const back: Record<string, string> = { ...WHEP_CORS, 'Content-Length': String(out.length) };
    for (const h of ['content-type', 'location', 'cache-control', 'allow']) {
      const v = answer.headers.get(h);
      if (v) back[h] = v;
    }
    this.log.info(
      { method: req.method, path: url.pathname, status: answer.status, location: back.location },
      'whep request relayed to the main thread',
    );
    res.writeHead(answer.status, back);
    res.end(out);
  }

  /** The stream for a new viewer, within the limits; a stream that is not live counts as not_found. */
  private async acquire(app: string, name: string, protocol: string): Promise<HubStream> {
    let stream: HubStream;
    try {
      stream = await this.streams.acquire(app, name);
    } catch (err) {
      if (errorCode(err) === 'RC_PLAY_NOT_FOUND')
        this.metrics.viewerRejects.inc({ protocol, reason: 'not_found' });
      throw err;
    }
    this.checkLimits(stream, protocol);
    return stream;
  }

  /** A request that failed: its code and status (logged when it is ours, 500), or a cut response. */
  private fail(res: ServerResponse, err: unknown, what: string): void {
    const { code, http: status } = errorStatus(err);
    if (status === 500) this.log.error({ err }, what);
    if (!res.headersSent) sendError(res, status, code, (err as Error).message, true);
    else res.destroy();
  }

  private checkLimits(stream: HubStream | undefined, protocol: string): void {
    const reject = (reason: string, message: string) => {
      this.metrics.viewerRejects.inc({ protocol, reason });
      throw new RelaycastError(reason === 'draining' ? 'RC_NODE_DRAINING' : 'RC_VIEWER_LIMIT', message);
    };
    if (this.draining) reject('draining', DRAINING_MESSAGE);
    if (this.options.maxViewersPerNode > 0 && this.options.viewerCount() >= this.options.maxViewersPerNode)
      reject('limit', 'this node has reached its viewer limit');
    if (
      stream &&
      this.options.maxViewersPerStream > 0 &&
      stream.viewers.size >= this.options.maxViewersPerStream
    )
      reject('limit', 'this stream has reached its viewer limit');
  }

  private async serveFlv(
    req: IncomingMessage,
    res: ServerResponse,
    app: string,
    name: string,
    query: URLSearchParams,
  ): Promise<void> {
    this.authorize(app, name, query, req, 'flv');
    this.checkLimits(undefined, 'flv');
    const stream = await this.acquire(app, name, 'flv');
    if (res.destroyed || req.socket.destroyed) return;
    serveFlv(req, res, stream, 'flv');
  }

  private async servePlaylist(
    req: IncomingMessage,
    res: ServerResponse,
    app: string,
    name: string,
    query: URLSearchParams,
  ): Promise<void> {
    this.authorize(app, name, query, req, 'hls');
    if (!this.hls) throw new RelaycastError('RC_PLAY_NOT_FOUND', 'HLS is not enabled on this node');
    // A draining node answers playlists like FLV and RTMP: players retry and the load balancer,
    // which sees readiness false, sends them elsewhere. Segments still answer so none is cut off.
    if (this.draining) {
      this.metrics.viewerRejects.inc({ protocol: 'hls', reason: 'draining' });
      throw new RelaycastError('RC_NODE_DRAINING', DRAINING_MESSAGE);
    }
    const playlist = await this.hls.playlist(app, name, tokenQuery(query));
    if (!playlist) {
      this.metrics.viewerRejects.inc({ protocol: 'hls', reason: 'not_found' });
      throw new RelaycastError('RC_PLAY_NOT_FOUND', `stream ${app}/${name} is not live`);
    }
    sendText(
      res,
      200,
      playlist.body,
      'application/vnd.apple.mpegurl',
      { 'Cache-Control': playlist.ended ? 'max-age=5' : 'no-cache', ...CORS_HEADERS },
      req.method === 'HEAD',
    );
  }

  private async serveLl(
    req: IncomingMessage,
    res: ServerResponse,
    match: RegExpExecArray,
    query: URLSearchParams,
  ): Promise<void> {
    let app: string;
    let name: string;
    try {
      app = decodeURIComponent(match[1]!);
      name = decodeURIComponent(match[2]!);
    } catch {
      throw new RelaycastError('RC_NAME_INVALID', 'the path is not valid percent-encoding');
    }
    validateStreamId(app, name);
    const file = match[3]!;
    if (file === 'll.m3u8') {
      await this.serveLlPlaylist(req, res, app, name, '', query);
      return;
    }
    this.authorize(app, name, query, req, 'hls');
    const media = await this.options.llhls!.media(app, name, file);
    if (!media)
      throw new RelaycastError(
        'RC_PLAY_NOT_FOUND',
        `${file} of ${app}/${name} is not (or no longer) available`,
      );
    res.writeHead(200, {
      'Content-Type': media.contentType,
      'Content-Length': media.data.length,
      // Every URI names one set of bytes forever (sequence numbers and init ids never repeat).
      'Cache-Control': 'public, max-age=3600, immutable',
      ...CORS_HEADERS,
    });
    res.end(req.method === 'HEAD' ? undefined : media.data);
  }

  private async serveLlPlaylist(
    req: IncomingMessage,
    res: ServerResponse,
    app: string,
    name: string,
    uriPrefix: string,
    query: URLSearchParams,
    orElse?: () => Promise<void>,
  ): Promise<void> {
    this.authorize(app, name, query, req, 'hls');
    if (this.draining) {
      this.metrics.viewerRejects.inc({ protocol: 'hls', reason: 'draining' });
      throw new RelaycastError('RC_NODE_DRAINING', DRAINING_MESSAGE);
    }
    const blocking = parseBlockingQuery(query);
    if (typeof blocking === 'string')
      throw new RelaycastError('RC_BAD_REQUEST', `${blocking} (RFC 8216bis 6.2.5.2); fix the query`);
    const playlist = await this.options.llhls!.playlist(app, name, {
      blocking,
      skip: wantsDeltaUpdate(query),
      uriPrefix,
      segmentQuery: tokenQuery(query),
    });
    if (!playlist && orElse && !blocking) return orElse();
    if (!playlist) {
      this.metrics.viewerRejects.inc({ protocol: 'hls', reason: 'not_found' });
      throw new RelaycastError('RC_PLAY_NOT_FOUND', `stream ${app}/${name} is not live`);
    }
    if (res.destroyed) return; // the player gave up while the reload was held
    sendText(
      res,
      200,
      playlist.body,
      'application/vnd.apple.mpegurl',
      { 'Cache-Control': playlist.ended ? 'max-age=5' : 'no-cache', ...CORS_HEADERS },
      req.method === 'HEAD',
    );
  }

  /**
   * An encrypted-HLS key: always needs a valid play token for the stream (whatever --play-auth
   * says), is rate-limited per client address, and is never cached or logged.
   */
  private async serveKey(
    req: IncomingMessage,
    res: ServerResponse,
    match: RegExpExecArray,
    query: URLSearchParams,
  ): Promise<void> {
    const count = (result: string) => this.metrics.hlsRequests.inc({ kind: 'key', result });
    const ip = normaliseIp(req.socket.remoteAddress) ?? '';
    if (!this.keyLimiter.allow(ip)) {
      count('rate_limited');
      throw new RelaycastError(
        'RC_PLAY_RATE_LIMITED',
        'too many key requests from this address; retry in a few seconds',
      );
    }
    let app: string;
    let name: string;
    try {
      app = decodeURIComponent(match[1]!);
      name = decodeURIComponent(match[2]!);
      validateStreamId(app, name);
    } catch {
      count('not_found');
      throw new RelaycastError('RC_PLAY_NOT_FOUND', 'key URLs look like /<app>/<name>/keys/<id>');
    }
    try {
      // Backup renditions are named <name>~backup on origins; the token is for the public name.
      verifyPlay(
        this.options.playSecrets,
        app,
        name.replace(/~backup$/, ''),
        query,
        ip,
        Date.now(),
        this.options.playBindIp,
      );
    } catch (err) {
      count('denied');
      this.metrics.authFailures.inc({ surface: 'play', reason: errorCode(err) });
      throw err;
    }
    const key = await this.hls?.key?.(app, name, match[3]!);
    if (!key) {
      count('not_found');
      throw new RelaycastError(
        'RC_PLAY_NOT_FOUND',
        `no key ${match[3]} for ${app}/${name} (unknown or expired)`,
      );
    }
    count('ok');
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': key.length,
      'Cache-Control': 'no-store',
      ...CORS_HEADERS,
    });
    res.end(req.method === 'HEAD' ? undefined : key);
  }

  private async serveSegment(
    req: IncomingMessage,
    res: ServerResponse,
    app: string,
    name: string,
    query: URLSearchParams,
  ): Promise<void> {
    // The segment's own name is `<name>-<seq>`: the stream is the part before the last '-'.
    const dash = name.lastIndexOf('-');
    if (dash <= 0)
      throw new RelaycastError('RC_PLAY_NOT_FOUND', 'segment names look like <name>-<sequence>.ts');
    const streamName = name.slice(0, dash);
    // Backup renditions are named <name>~backup on origins; the token is for the public name.
    this.authorize(app, streamName.replace(/~backup$/, ''), query, req, 'hls');
    if (!this.hls) throw new RelaycastError('RC_PLAY_NOT_FOUND', 'HLS is not enabled on this node');
    const data = await this.hls.segment(app, streamName, `${name}.ts`);
    if (!data)
      throw new RelaycastError('RC_PLAY_NOT_FOUND', `segment ${name}.ts is not (or no longer) available`);
    res.writeHead(200, {
      'Content-Type': 'video/mp2t',
      'Content-Length': data.length,
      'Cache-Control': 'public, max-age=3600, immutable',
      ...CORS_HEADERS,
    });
    res.end(req.method === 'HEAD' ? undefined : data);
  }

  /** Draining: new viewers (HTTP-FLV, HLS playlists, WHEP) get 503 RC_NODE_DRAINING; current ones go on. */
  stopAccepting(): void {
    this.draining = true;
  }

  /** The inverse (UndrainNode). */
  resumeAccepting(): void {
    this.draining = false;
  }

  async close(): Promise<void> {
    await this.options.whep?.close();
    this.server.closeIdleConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  closeAllConnections(): void {
    this.server.closeAllConnections();
  }
}
