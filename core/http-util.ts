import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RelaycastError } from './errors.ts';
import { validateStreamId } from './names.ts';

export const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': 'Range, Authorization, Content-Type',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range',
};

/**
 * JSON.stringify replacer of the admin API: epoch-millisecond fields named `…At` (createdAt,
 * startedAt, updatedAt, lastMediaAt, lastPacketAt) become ISO 8601 strings, 0 (never) null, the
 * same as the CLI's --json. Durations keep their `…Ms` names and numbers.
 */
export function isoTimes(key: string, value: unknown): unknown {
  if (typeof value !== 'number' || !/^at$|[a-z]At$/.test(key)) return value;
  return value > 0 ? new Date(value).toISOString() : null;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  replacer?: (key: string, value: unknown) => unknown,
): void {
  const text = `${JSON.stringify(body, replacer, 2)}\n`;
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Error bodies always carry a stable code and a sentence that says what to do. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  cors = false,
): void {
  sendJson(res, status, { error: { code, message } }, cors ? CORS_HEADERS : {});
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  contentType: string,
  headers: Record<string, string> = {},
  head = false,
): void {
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(head ? undefined : text);
}

/** Constant-time comparison of a presented secret with the expected one. */
export function secretEquals(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  if (a.length !== b.length) {
    timingSafeEqual(b, b); // same work whatever the length
    return false;
  }
  return timingSafeEqual(a, b);
}

export function bearerToken(req: IncomingMessage): string | undefined {
  return parseBearer(req.headers.authorization);
}

/** The token of an `Authorization: Bearer <token>` value (HTTP header or gRPC metadata). */
export function parseBearer(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(value);
  return m?.[1]?.trim();
}

/** Whether a peer address is this machine (what admin changes without a token are limited to). */
export function isLoopbackAddress(ip: string): boolean {
  return ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1';
}

export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) throw new Error(`request body larger than ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * `/live/test.flv` → { app: 'live', name: 'test', ext: 'flv' }; app may contain slashes. Undefined
 * when the path has another shape; RC_NAME_INVALID (core/names.ts) when the decoded app or name
 * breaks the name rule, so a `..` (also as `%2e%2e`) never reaches a lookup or a file path.
 */
export function parseStreamPath(pathname: string): { app: string; name: string; ext: string } | undefined {
  const m = /^\/(.+)\/([^/]+)\.([a-z0-9]+)$/.exec(pathname);
  if (!m) return undefined;
  let app: string;
  let name: string;
  try {
    app = decodeURIComponent(m[1]!);
    name = decodeURIComponent(m[2]!);
  } catch {
    throw new RelaycastError('RC_NAME_INVALID', 'the path is not valid percent-encoding');
  }
  validateStreamId(app, name);
  return { app, name, ext: m[3]! };
}
