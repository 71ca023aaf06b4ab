/**
 * Internal HTTP: what other relaycast processes read. On an origin (default port 8081) it serves
 * HTTP-FLV of every live stream (one pull per stream per edge) and the HLS packaged there; on an
 * edge or all-in-one with --workers it is the loopback relay its viewer workers pull from (one
 * origin pull per stream per node however many workers). Guarded by a token when one is set.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parseBlockingQuery } from '../media/hls/ll-blocking.ts';
import type { StreamHub } from '../media/hub/hub.ts';
import type { HubStream } from '../media/hub/stream.ts';
import { errorStatus, RelaycastError } from './errors.ts';
import { serveFlv } from './http-flv.ts';
import { bearerToken, parseStreamPath, secretEquals, sendError, sendJson, sendText } from './http-util.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import { validateStreamId } from './names.ts';
import { listenOn } from './net-limits.ts';
import type { HlsSource, LlHlsSource, StreamSource } from './sources.ts';

export interface InternalHttpOptions {
  host: string;
  port: number;
  clusterToken: string | undefined;
  /** Streams for viewer index pages (GET /_index), when this node knows more than its hub. */
  listStreams?: () => Promise<{ app: string; name: string }[]>;
  /**
   * Serve encrypted-HLS keys at /<app>/<name>/keys/<id> (the --workers loopback relay only: its
   * viewer threads have already checked the viewer's token; origins never hand keys out here).
   */
  serveKeys?: boolean;
  /** LL-HLS packaged here (origins): /<app>/<name>/ll.m3u8 (blocking reloads too) and its media. */
  llhls?: LlHlsSource;
}

const LL_PATH = /^\/(.+)\/([^/]+)\/(ll\.m3u8|init-\d{1,15}\.mp4|\d{1,15}(?:\.\d{1,5})?\.m4s)$/;

const KEY_PATH = /^\/([^/]+)\/([^/]+)\/keys\/(l?\d{1,20})$/;

export class InternalHttpServer {
  readonly server: Server;
  private readonly hub: StreamHub;
  private readonly source: StreamSource;
  private readonly hls: HlsSource | undefined;
  private readonly options: InternalHttpOptions;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  /** Pull requests served since start (tests and the admin API read it). */
  pullsServed = 0;

  constructor(
    hub: StreamHub,
    source: StreamSource,
    hls: HlsSource | undefined,
    options: InternalHttpOptions,
    metrics: Metrics,
    log: Logger,
  ) {
    this.hub = hub;
    this.source = source;
    this.hls = hls;
    this.options = options;
    this.metrics = metrics;
    this.log = log.child({ component: 'internal-http' });
    this.server = createServer({ requestTimeout: 30_000, headersTimeout: 15_000 }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err }, 'internal request failed');
        if (!res.headersSent) sendError(res, 500, 'RC_INTERNAL', 'internal error');
      });
    });
  }

  listen(): Promise<number> {
    return listenOn(this.server, this.options.port, this.options.host);
  }

  private authorized(req: IncomingMessage, url: URL): boolean {
    const token = this.options.clusterToken;
    if (!token) return true;
    const presented = bearerToken(req) ?? url.searchParams.get('token') ?? undefined;
    return presented !== undefined && secretEquals(presented, token);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://internal');
    if (!this.authorized(req, url)) {
      this.metrics.authFailures.inc({ surface: 'cluster', reason: 'RC_CLUSTER_UNAUTHORIZED' });
      sendError(
        res,
        401,
        'RC_CLUSTER_UNAUTHORIZED',
        'edges must send the cluster token (Authorization: Bearer)',
      );
      return;
    }
    if (url.pathname === '/_streams') {
      sendJson(res, 200, {
        streams: this.hub
          .list()
          .filter((s) => s.live)
          .map((s) => s.key),
        pullsServed: this.pullsServed,
      });
      return;
    }
    if (url.pathname === '/_index') {
      const list = this.options.listStreams
        ? await this.options.listStreams()
        : this.hub
            .list()
            .filter((s) => s.live)
            .map((s) => ({ app: s.app, name: s.name }));
      sendJson(res, 200, { streams: list });
      return;
    }
    const keyPath = this.options.serveKeys ? KEY_PATH.exec(url.pathname) : null;
    if (keyPath) {
      let key: Buffer | undefined;
      try {
        const app = decodeURIComponent(keyPath[1]!);
        const name = decodeURIComponent(keyPath[2]!);
        validateStreamId(app, name);
        key = await this.hls?.key?.(app, name, keyPath[3]!);
      } catch {
        key = undefined;
      }
      if (!key) sendError(res, 404, 'RC_PLAY_NOT_FOUND', 'no such HLS key');
      else {
        res.writeHead(200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': key.length,
          'Cache-Control': 'no-store',
        });
        res.end(key);
      }
      return;
    }
    const llPath = this.options.llhls ? LL_PATH.exec(url.pathname) : null;
    if (llPath) {
      try {
        await this.serveLl(res, llPath, url.searchParams);
      } catch (err) {
        const { code, http } = errorStatus(err);
        if (!res.headersSent) sendError(res, http, code, (err as Error).message);
        else res.destroy();
      }
      return;
    }
    let target: ReturnType<typeof parseStreamPath>;
    try {
      target = parseStreamPath(url.pathname);
    } catch (err) {
      const { code, http } = errorStatus(err);
      sendError(res, http, code, (err as Error).message);
      return;
    }
    if (!target) {
      sendError(res, 404, 'RC_NOT_FOUND', 'internal URLs are /<app>/<name>.flv|.m3u8|.ts');
      return;
    }
    const { app, name, ext } = target;
    if (ext === 'flv') {
      let stream: HubStream;
      try {
        stream = await this.source.acquire(app, name);
      } catch (err) {
        const { code, http } = errorStatus(err);
        sendError(res, http, code, (err as Error).message);
        return;
      }
      this.pullsServed++;
      this.log.info({ stream: stream.key, remote: req.socket.remoteAddress }, 'edge pull started');
      serveFlv(req, res, stream, 'pull');
      return;
    }
    if (!this.hls) {
      sendError(res, 404, 'RC_NOT_FOUND', 'HLS is off on this origin');
      return;
    }
    if (ext === 'm3u8') {
      const pl = await this.hls.playlist(app, name, '');
      if (!pl) sendError(res, 404, 'RC_PLAY_NOT_FOUND', `no HLS for ${app}/${name}`);
      else sendText(res, 200, pl.body, 'application/vnd.apple.mpegurl', { 'Cache-Control': 'no-cache' });
      return;
    }
    if (ext === 'ts') {
      const dash = name.lastIndexOf('-');
      const data = dash > 0 ? await this.hls.segment(app, name.slice(0, dash), `${name}.ts`) : undefined;
      if (!data) {
        sendError(res, 404, 'RC_PLAY_NOT_FOUND', `no segment ${name}.ts`);
        return;
      }
      res.writeHead(200, {
        'Content-Type': 'video/mp2t',
        'Content-Length': data.length,
        'Cache-Control': 'max-age=3600',
      });
      res.end(data);
      return;
    }
    sendError(res, 404, 'RC_NOT_FOUND', `unknown extension .${ext}`);
  }

  /** LL-HLS for edges: the playlist (held for blocking reloads), init segments, segments, parts. */
  private async serveLl(res: ServerResponse, match: RegExpExecArray, query: URLSearchParams): Promise<void> {
    let app: string;
    let name: string;
    try {
      app = decodeURIComponent(match[1]!);
      name = decodeURIComponent(match[2]!);
    } catch {
      throw new RelaycastError('RC_NAME_INVALID', 'the path is not valid percent-encoding');
    }
    validateStreamId(app, name);
    const llhls = this.options.llhls!;
    const file = match[3]!;
    if (file === 'll.m3u8') {
      const blocking = parseBlockingQuery(query);
      if (typeof blocking === 'string') throw new RelaycastError('RC_BAD_REQUEST', blocking);
      const pl = await llhls.playlist(app, name, { blocking, uriPrefix: '', segmentQuery: '', skip: false });
      if (!pl) throw new RelaycastError('RC_PLAY_NOT_FOUND', `no LL-HLS for ${app}/${name}`);
      if (!res.destroyed)
        sendText(res, 200, pl.body, 'application/vnd.apple.mpegurl', { 'Cache-Control': 'no-cache' });
      return;
    }
    const media = await llhls.media(app, name, file);
    if (!media) throw new RelaycastError('RC_PLAY_NOT_FOUND', `no ${file} for ${app}/${name}`);
    res.writeHead(200, {
      'Content-Type': media.contentType,
      'Content-Length': media.data.length,
      'Cache-Control': 'max-age=3600',
    });
    res.end(media.data);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
