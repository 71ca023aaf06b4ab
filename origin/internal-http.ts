/**
 * The origin's internal HTTP (default port 8081): what edges read. HTTP-FLV of every live stream
 * (one pull per stream per edge), and the HLS playlists and segments packaged here. Guarded by the
 * cluster token when one is configured.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { serveFlv } from '../core/http-flv.ts';
import {
  bearerToken,
  parseStreamPath,
  secretEquals,
  sendError,
  sendJson,
  sendText,
} from '../core/http-util.ts';
import type { Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import { listenOn } from '../core/net-limits.ts';
import type { HlsSource } from '../core/sources.ts';
import type { StreamHub } from '../media/hub/hub.ts';

export interface InternalHttpOptions {
  host: string;
  port: number;
  clusterToken: string | undefined;
}

export class InternalHttpServer {
  readonly server: Server;
  private readonly hub: StreamHub;
  private readonly hls: HlsSource | undefined;
  private readonly options: InternalHttpOptions;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  /** Pull requests served since start (tests and the admin API read it). */
  pullsServed = 0;

  constructor(
    hub: StreamHub,
    hls: HlsSource | undefined,
    options: InternalHttpOptions,
    metrics: Metrics,
    log: Logger,
  ) {
    this.hub = hub;
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
    const target = parseStreamPath(url.pathname);
    if (!target) {
      sendError(res, 404, 'RC_NOT_FOUND', 'internal URLs are /<app>/<name>.flv|.m3u8|.ts');
      return;
    }
    const { app, name, ext } = target;
    if (ext === 'flv') {
      const stream = this.hub.getLive(app, name);
      if (!stream) {
        sendError(res, 404, 'RC_PLAY_NOT_FOUND', `stream ${app}/${name} is not live on this origin`);
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

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
