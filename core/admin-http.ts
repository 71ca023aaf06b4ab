/**
 * Admin HTTP on every process (default port 9090): /metrics, /healthz, /readyz and the REST admin
 * API under /api/v1. Roles register their routes; every /api/v1 route needs the admin token when
 * one is configured (without one, only this machine may call them: see refusal()). Writes take
 * JSON only, and admin sends no CORS headers.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { ERROR_STATUS, errorStatus, RelaycastError } from './errors.ts';
import {
  bearerToken,
  isLoopbackAddress,
  isoTimes,
  readBody,
  secretEquals,
  sendError,
  sendJson,
  sendText,
} from './http-util.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import { listenOn } from './net-limits.ts';

export interface AdminRequest {
  req: IncomingMessage;
  params: Record<string, string>;
  query: URLSearchParams;
  body: () => Promise<unknown>;
}

export type AdminHandler = (r: AdminRequest) => Promise<{ status?: number; body: unknown }>;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: AdminHandler;
}

export interface AdminHttpOptions {
  host: string;
  port: number;
  adminToken: string | undefined;
}

/** A Host header naming localhost or an IP literal (a DNS-rebinding attack sends its own name). */
export function isLocalHostHeader(host: string | undefined): boolean {
  if (!host) return false;
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return true;
  return isIP(hostname.replace(/^\[|\]$/g, '')) !== 0;
}

function isJsonContentType(value: string | undefined): boolean {
  return value !== undefined && /^application\/json\s*(;|$)/i.test(value.trim());
}

export class AdminHttpServer {
  readonly server: Server;
  private readonly routes: Route[] = [];
  private readonly options: AdminHttpOptions;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  /** Called before each scrape (hub counters → prom-client). */
  readonly beforeScrape: (() => void)[] = [];
  /** Replaces the scrape output (the main thread of --workers merges its workers' metrics). */
  metricsText: (() => Promise<string>) | undefined;
  /** Readiness checks; all must return true. */
  readonly readiness: { name: string; check: () => boolean }[] = [];

  constructor(options: AdminHttpOptions, metrics: Metrics, log: Logger) {
    this.options = options;
    this.metrics = metrics;
    this.log = log.child({ component: 'admin-http' });
    this.server = createServer({ requestTimeout: 30_000, headersTimeout: 15_000 }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err }, 'admin request failed');
        if (!res.headersSent) sendError(res, 500, 'RC_INTERNAL', 'internal error');
      });
    });
  }

  /** `pattern` like '/api/v1/streams/:app/:name'. */
  route(method: string, pattern: string, handler: AdminHandler): void {
    const keys: string[] = [];
    const re = pattern.replace(/:([a-zA-Z]+)/g, (_, k: string) => {
      keys.push(k);
      return '([^/]+)';
    });
    this.routes.push({ method, pattern: new RegExp(`^${re}$`), keys, handler });
  }

  listen(): Promise<number> {
    return listenOn(this.server, this.options.port, this.options.host);
  }

  /**
   * Who may use /api/v1: with --admin-token, whoever presents it; without one, only this machine —
   * a loopback client whose Host header names an IP address or localhost. A browser tricked into
   * calling the API (CSRF) or a DNS name rebound to 127.0.0.1 sends another Host and is refused,
   * and nobody else can read the API (it lists publisher addresses).
   */
  private refusal(
    req: IncomingMessage,
  ): { code: 'RC_ADMIN_UNAUTHORIZED' | 'RC_ADMIN_HOST_REFUSED'; message: string } | undefined {
    const token = this.options.adminToken;
    if (token) {
      const presented = bearerToken(req);
      if (presented !== undefined && secretEquals(presented, token)) return undefined;
      return {
        code: 'RC_ADMIN_UNAUTHORIZED',
        message: 'send the admin token as "Authorization: Bearer <token>"',
      };
    }
    if (!isLoopbackAddress(req.socket.remoteAddress ?? ''))
      return {
        code: 'RC_ADMIN_UNAUTHORIZED',
        message:
          'without --admin-token, the API answers only requests from this machine; set --admin-token to use it remotely',
      };
    if (!isLocalHostHeader(req.headers.host))
      return {
        code: 'RC_ADMIN_HOST_REFUSED',
        message:
          'without --admin-token, the API answers only requests addressed to localhost or an IP address (Host header)',
      };
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    if (path === '/metrics' && req.method === 'GET') {
      for (const f of this.beforeScrape) f();
      const text = this.metricsText ? await this.metricsText() : await this.metrics.registry.metrics();
      sendText(res, 200, text, this.metrics.registry.contentType);
      return;
    }
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    if (path === '/readyz') {
      const failing = this.readiness.filter((r) => !r.check()).map((r) => r.name);
      sendJson(res, failing.length ? 503 : 200, { status: failing.length ? 'not ready' : 'ready', failing });
      return;
    }
    for (const route of this.routes) {
      if (route.method !== req.method) continue;
      const m = route.pattern.exec(path);
      if (!m) continue;
      const refused = this.refusal(req);
      if (refused) {
        this.metrics.authFailures.inc({ surface: 'admin', reason: refused.code });
        sendError(res, ERROR_STATUS[refused.code].http, refused.code, refused.message);
        return;
      }
      // Writes take JSON only: a cross-site form or text/plain POST (no CORS preflight) never
      // reaches a handler, and admin answers no preflight (it sends no CORS headers at all).
      if (req.method !== 'GET' && req.method !== 'HEAD' && !isJsonContentType(req.headers['content-type'])) {
        sendError(
          res,
          415,
          'RC_ADMIN_CONTENT_TYPE',
          'admin writes need "Content-Type: application/json" (also with an empty body)',
        );
        return;
      }
      const params: Record<string, string> = {};
      route.keys.forEach((k, i) => {
        params[k] = decodeURIComponent(m[i + 1]!);
      });
      try {
        const out = await route.handler({
          req,
          params,
          query: url.searchParams,
          body: async () => {
            const raw = await readBody(req, 64 * 1024);
            if (raw.length === 0) return {};
            try {
              return JSON.parse(raw.toString('utf8'));
            } catch {
              throw new RelaycastError(
                'RC_BAD_REQUEST',
                'request body is not valid JSON; send a JSON object',
              );
            }
          },
        });
        sendJson(res, out.status ?? 200, out.body, {}, isoTimes);
      } catch (err) {
        const { code, http: status } = errorStatus(err);
        if (status === 500) this.log.error({ err }, 'admin route failed');
        sendError(res, status, code, (err as Error).message);
      }
      return;
    }
    sendError(res, 404, 'RC_NOT_FOUND', `no admin route ${req.method} ${path}`);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
