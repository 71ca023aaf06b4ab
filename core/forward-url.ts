/**
 * Forward destinations: `rtmp://host[:port]/app[/more]/KEY[?query]` and the same with `rtmps://`.
 * The last path segment is the stream key (with its query, which services such as Facebook use);
 * everything between the host and it is the app, sent in `connect` as encoders do (librtmp,
 * ffmpeg, OBS), so `rtmp://host/app?auth=x/KEY` (a Wowza-style app query) works too. A `/` inside a
 * key's query must be written `%2F`.
 *
 * Keys are secrets: logs, metrics and API answers show `redactUrl(url)`, never the URL itself.
 */
import { RelaycastError } from './errors.ts';

export interface ForwardTarget {
  scheme: 'rtmp' | 'rtmps';
  /** Host name or IP (IPv6 without brackets). */
  host: string;
  port: number;
  /** What `connect` carries as app, e.g. 'live2' or 'app/sub?auth=x'. */
  app: string;
  /** The publish name: the stream key, with its query if any. */
  key: string;
  /** tcUrl for `connect`: scheme://host[:port]/app, as the URL wrote it. */
  tcUrl: string;
}

export const RTMP_DEFAULT_PORT = 1935;
export const RTMPS_DEFAULT_PORT = 443;

const EXPECTED = 'expected rtmp://host[:port]/app/streamkey or rtmps://host[:port]/app/streamkey';

function invalid(url: string, why: string): RelaycastError {
  return new RelaycastError('RC_FORWARD_URL_INVALID', `forward URL ${redactUrl(url)}: ${why}; ${EXPECTED}`);
}

/** Parses and validates a forward destination; throws RelaycastError RC_FORWARD_URL_INVALID. */
export function parseForwardUrl(url: string): ForwardTarget {
  if (typeof url !== 'string' || url.length === 0) throw invalid(String(url), 'empty');
  if (url.length > 2048) throw invalid(url, 'longer than 2048 characters');
  if (/[\s\x00-\x1f\x7f]/.test(url)) throw invalid(url, 'contains spaces or control characters');
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(url);
  if (!m) throw invalid(url, 'not a URL');
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'rtmp' && scheme !== 'rtmps')
    throw invalid(url, `scheme ${scheme}:// is not forwardable (only rtmp:// and rtmps://)`);
  const authority = m[2]!;
  if (authority.includes('@'))
    throw invalid(url, 'user:password@ is not supported; put credentials in the key');
  const hp = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(authority);
  if (!hp) throw invalid(url, 'no host');
  const host = (hp[1] ?? hp[2]!).toLowerCase();
  const port =
    hp[3] === undefined ? (scheme === 'rtmps' ? RTMPS_DEFAULT_PORT : RTMP_DEFAULT_PORT) : Number(hp[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(url, `port ${hp[3]} out of range`);
  if (m[3]!.includes('#')) throw invalid(url, 'a #fragment has no meaning here');
  const rest = m[3]!.replace(/^\/+/, '');
  const slash = rest.lastIndexOf('/');
  if (slash < 0) throw invalid(url, 'needs an app and a stream key (two path segments)');
  const app = rest.slice(0, slash);
  const key = rest.slice(slash + 1);
  const appPath = app.split('?')[0]!;
  if (!appPath || appPath.split('/').some((s) => s === '' || s === '.' || s === '..'))
    throw invalid(url, 'the app path is empty or has an empty segment');
  if (!key || key.startsWith('?')) throw invalid(url, 'the stream key (last path segment) is empty');
  return { scheme, host, port, app, key, tcUrl: `${scheme}://${authority}/${app}` };
}

/** Query values become ***; names stay (they say what kind of thing was there). */
function redactQuery(query: string): string {
  return query
    .split('&')
    .map((p) => {
      const eq = p.indexOf('=');
      return eq < 0 ? (p ? '***' : p) : `${p.slice(0, eq + 1)}***`;
    })
    .join('&');
}

function redactSegment(segment: string, isKey: boolean): string {
  const q = segment.indexOf('?');
  const name = q < 0 ? segment : segment.slice(0, q);
  const query = q < 0 ? undefined : segment.slice(q + 1);
  return (isKey ? '***' : name) + (query === undefined ? '' : `?${redactQuery(query)}`);
}

/**
 * The URL for logs and state: the stream key (last path segment) becomes ***, and so do query
 * values and any user:password. Never throws; what it cannot parse it hides entirely.
 *   rtmps://live-api-s.facebook.com:443/rtmp/FB-1-2?s_bl=1  →  rtmps://live-api-s.facebook.com:443/rtmp/***?s_bl=***
 */
export function redactUrl(url: string): string {
  if (typeof url !== 'string') return '***';
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^/?#]*)([^#]*)/.exec(url);
  if (!m) return '***';
  const authority = m[2]!.includes('@') ? `***@${m[2]!.slice(m[2]!.lastIndexOf('@') + 1)}` : m[2]!;
  const rest = m[3]!;
  if (rest === '' || rest === '/') return `${m[1]}${authority}${rest}`;
  const slash = rest.lastIndexOf('/');
  if (slash < 0) return `${m[1]}${authority}${redactSegment(rest, false)}`;
  const app = rest.slice(0, slash); // '' or '/app…'
  const key = rest.slice(slash + 1);
  // The app's own query (rtmp://host/app?auth=x/KEY) is a secret too.
  const appRedacted = app
    .split('/')
    .map((s) => redactSegment(s, false))
    .join('/');
  return `${m[1]}${authority}${appRedacted}/${key === '' ? '' : redactSegment(key, true)}`;
}
