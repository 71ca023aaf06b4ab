/**
 * Source URLs, validated once here: `udp://HOST_OR_GROUP:PORT` (raw MPEG-TS in datagrams) and
 * `rtp://HOST_OR_GROUP:PORT` (RTP/MP2T, RFC 2250). Query: `source=IP` (source-specific multicast),
 * `interface=ADDR` (local address that joins the group), `program=N` (MPEG-TS program_number).
 * ffmpeg's `udp://@239.1.1.1:5000` listen form is accepted too.
 */
import { isIP } from 'node:net';
import { RelaycastError } from './errors.ts';

export interface SourceSpec {
  protocol: 'udp' | 'rtp';
  /** Address to bind and, when multicast, the group to join. */
  host: string;
  port: number;
  family: 4 | 6;
  multicast: boolean;
  /** Source-specific multicast sender (IGMPv3 / MLDv2). */
  sourceAddress?: string;
  /** Local interface address used to join the group. */
  interfaceAddress?: string;
  programNumber?: number;
}

function invalid(url: string, why: string): RelaycastError {
  return new RelaycastError(
    'RC_SOURCE_URL_INVALID',
    `source URL ${JSON.stringify(url)}: ${why}; expected udp://GROUP_OR_HOST:PORT[?source=IP&interface=ADDR&program=N], rtp://…, http(s)://HOST/PATH.flv, http(s)://HOST/PATH.m3u8 or rtmp(s)://HOST/APP/NAME`,
  );
}

export function isMulticast(host: string): boolean {
  const v = isIP(host);
  if (v === 4) {
    const first = Number(host.split('.')[0]);
    return first >= 224 && first <= 239;
  }
  return v === 6 && /^ff/i.test(host);
}

export function parseSourceUrl(url: string, defaults?: { interfaceAddress?: string }): SourceSpec {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid(url, 'not a URL');
  }
  const protocol = u.protocol.replace(/:$/, '');
  if (protocol !== 'udp' && protocol !== 'rtp')
    throw invalid(url, `scheme ${protocol}:// is not a receivable source here`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const family = isIP(host);
  if (family === 0)
    throw invalid(url, 'the host must be an IP address (a multicast group or a local address)');
  const port = Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(url, 'a port 1..65535 is required');
  const allowed = new Set(['source', 'interface', 'program']);
  for (const key of u.searchParams.keys())
    if (!allowed.has(key)) throw invalid(url, `unknown parameter ${key}`);
  const spec: SourceSpec = { protocol, host, port, family: family as 4 | 6, multicast: isMulticast(host) };
  const source = u.searchParams.get('source');
  if (source !== null) {
    if (isIP(source) !== family) throw invalid(url, `source=${source} must be an IPv${family} address`);
    if (!spec.multicast) throw invalid(url, 'source= only applies to a multicast group');
    spec.sourceAddress = source;
  }
  const iface = u.searchParams.get('interface') ?? defaults?.interfaceAddress;
  if (iface !== undefined && iface !== '') {
    if (isIP(iface) !== family) throw invalid(url, `interface ${iface} must be an IPv${family} address`);
    spec.interfaceAddress = iface;
  }
  const program = u.searchParams.get('program');
  if (program !== null) {
    const n = Number(program);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw invalid(url, 'program must be 1..65535');
    spec.programNumber = n;
  }
  return spec;
}

/** A source pulled from another server: HTTP-FLV, HLS (MPEG-TS segments) or RTMP play. */
export interface PullSpec {
  protocol: 'http-flv' | 'hls' | 'rtmp';
  url: string;
}

/**
 * Any channel-source URL: MPEG-TS received over UDP/RTP (parseSourceUrl), or a stream pulled from
 * an HTTP-FLV URL (`….flv`), an HLS playlist (`….m3u8`) or an RTMP server (`rtmp://host/app/name`).
 */
export function parseAnySourceUrl(
  url: string,
  defaults?: { interfaceAddress?: string },
): SourceSpec | PullSpec {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid(url, 'not a URL');
  }
  const scheme = u.protocol.replace(/:$/, '');
  if (scheme === 'udp' || scheme === 'rtp') return parseSourceUrl(url, defaults);
  if (!u.hostname) throw invalid(url, 'a host is required');
  if (u.username || u.password)
    throw invalid(url, 'credentials in the URL are not supported; use a token in the query');
  if (scheme === 'http' || scheme === 'https') {
    if (/\.flv$/i.test(u.pathname)) return { protocol: 'http-flv', url };
    if (/\.m3u8$/i.test(u.pathname)) return { protocol: 'hls', url };
    throw invalid(url, 'an http(s) source is an HTTP-FLV stream (….flv) or an HLS playlist (….m3u8)');
  }
  if (scheme === 'rtmp' || scheme === 'rtmps') {
    const parts = u.pathname.split('/').filter(Boolean);
    if (parts.length < 2)
      throw invalid(url, 'an rtmp source names the app and the stream: rtmp://host/app/name');
    return { protocol: 'rtmp', url };
  }
  throw invalid(url, `scheme ${scheme}:// is not a receivable source here`);
}

const isLoopback = (h: string) =>
  h === 'localhost' || h === '::1' || h === '::' || h === '0.0.0.0' || h.startsWith('127.');

function portOf(u: URL): number {
  if (u.port) return Number(u.port);
  return u.protocol === 'rtmp:' ? 1935 : u.protocol === 'https:' || u.protocol === 'rtmps:' ? 443 : 80;
}

/**
 * Whether host:port is the listener a node advertises as `listener` (`http://host:port`,
 * `rtmp://host:port`); loopback and wildcard addresses all name this machine, so they match each other.
 */
export function isListener(listener: string, host: string, port: number): boolean {
  let u: URL;
  try {
    u = new URL(listener);
  } catch {
    return false;
  }
  const h = u.hostname.replace(/^\[|\]$/g, '');
  const target = host.replace(/^\[|\]$/g, '').toLowerCase();
  return portOf(u) === port && (h.toLowerCase() === target || (isLoopback(h) && isLoopback(target)));
}

/**
 * Whether pulling `url` into `<app>/<name>` would pull that very stream from one of `listeners`
 * (the HTTP and RTMP listener URLs of this node or cluster): the source would feed itself.
 */
export function pullsOwnStream(
  url: string,
  app: string,
  name: string,
  listeners: readonly string[],
): boolean {
  const spec = parseAnySourceUrl(url);
  if (!('url' in spec)) return false;
  const u = new URL(url);
  const rtmp = spec.protocol === 'rtmp';
  let path: string;
  try {
    path = decodeURIComponent(u.pathname);
  } catch {
    return false;
  }
  if (path.replace(/\.(flv|m3u8)$/i, '') !== `/${app}/${name}`) return false;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return listeners.some((l) => /^rtmps?:/i.test(l) === rtmp && isListener(l, host, portOf(u)));
}

/** RC_SOURCE_LOOP for a source that would pull its own stream. */
export function sourceLoopError(url: string, app: string, name: string): RelaycastError {
  const u = new URL(url);
  return new RelaycastError(
    'RC_SOURCE_LOOP',
    `${u.protocol}//${u.host}${u.pathname} is ${app}/${name} on this cluster itself: a channel cannot pull its own stream; give the upstream server's address`,
  );
}
