/**
 * Signed play URLs (anti-leech): `?expires=<unix seconds>&sig=<hex HMAC-SHA256(secret, "<app>/<name>:<expires>")>`.
 * When bound to a client IP the signed string is "<app>/<name>:<expires>:<ip>" and the URL carries
 * `&ip=1`. Two secrets may be active during rotation.
 */
import { createHmac } from 'node:crypto';
import { RelaycastError } from './errors.ts';
import { secretEquals } from './http-util.ts';

export function signingInput(app: string, name: string, expires: number, ip?: string): string {
  return ip ? `${app}/${name}:${expires}:${ip}` : `${app}/${name}:${expires}`;
}

export function signPlay(secret: string, app: string, name: string, expires: number, ip?: string): string {
  return createHmac('sha256', secret)
    .update(signingInput(app, name, expires, ip))
    .digest('hex');
}

/** Query string for a signed URL. */
export function signedQuery(
  secret: string,
  app: string,
  name: string,
  ttlSeconds: number,
  ip?: string,
): string {
  const expires = Math.floor(Date.now() / 1000) + ttlSeconds;
  const sig = signPlay(secret, app, name, expires, ip);
  return `expires=${expires}&sig=${sig}${ip ? '&ip=1' : ''}`;
}

export type PlayTokenFailure =
  | 'RC_PLAY_SIGNATURE_MISSING'
  | 'RC_PLAY_SIGNATURE_EXPIRED'
  | 'RC_PLAY_SIGNATURE_INVALID';

/** Throws RelaycastError with a reason code unless the query carries a valid, unexpired token. */
export function verifyPlay(
  secrets: readonly string[],
  app: string,
  name: string,
  query: URLSearchParams,
  clientIp: string | undefined,
  nowMs = Date.now(),
  requireIpBinding = false,
): void {
  const expiresRaw = query.get('expires');
  const sig = query.get('sig');
  if (!expiresRaw || !sig)
    throw new RelaycastError(
      'RC_PLAY_SIGNATURE_MISSING',
      'this stream needs a signed URL (?expires=…&sig=…)',
    );
  const expires = Number(expiresRaw);
  if (!Number.isInteger(expires))
    throw new RelaycastError('RC_PLAY_SIGNATURE_INVALID', 'expires must be unix seconds');
  if (expires * 1000 < nowMs)
    throw new RelaycastError('RC_PLAY_SIGNATURE_EXPIRED', 'the signed URL has expired');
  if (requireIpBinding && query.get('ip') !== '1')
    throw new RelaycastError(
      'RC_PLAY_SIGNATURE_INVALID',
      "this server accepts only URLs bound to the viewer's address (relaycast sign --ip ADDRESS)",
    );
  const ip = query.get('ip') === '1' ? normaliseIp(clientIp) : undefined;
  for (const secret of secrets) {
    if (secretEquals(sig.toLowerCase(), signPlay(secret, app, name, expires, ip))) return;
  }
  throw new RelaycastError('RC_PLAY_SIGNATURE_INVALID', 'the URL signature does not match');
}

/** '::ffff:127.0.0.1' → '127.0.0.1' */
export function normaliseIp(ip: string | undefined): string | undefined {
  if (!ip) return ip;
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/** The token part of a query, to append to derived URLs (HLS segments). */
export function tokenQuery(query: URLSearchParams): string {
  const out = new URLSearchParams();
  for (const k of ['expires', 'sig', 'ip']) {
    const v = query.get(k);
    if (v !== null) out.set(k, v);
  }
  const s = out.toString();
  return s ? `?${s}` : '';
}
