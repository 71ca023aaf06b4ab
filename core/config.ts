/**
 * Configuration: one schema, three sources. Precedence: flag > env RELAYCAST_<NAME> > YAML file
 * (--config) > default. Every option is validated; errors name the option, the source and what to
 * do. `--help` is rendered from the same schema, so it cannot drift.
 */

import { readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { type OptionTypes, parseCommandArgs, UsageError } from './args.ts';
import { parseCidr } from './cidr.ts';
import { RelaycastError } from './errors.ts';
import { LOG_LEVELS } from './log.ts';
import { validateStreamName } from './names.ts';
import { parseAnySourceUrl } from './source-url.ts';

export type Role = 'all' | 'origin' | 'edge' | 'control-plane';
export const ROLES: readonly Role[] = ['all', 'origin', 'edge', 'control-plane'];

type Kind = 'string' | 'int' | 'number' | 'bool' | 'enum';

interface OptionSpec {
  kind: Kind;
  default: string | number | boolean | undefined;
  help: string;
  values?: readonly string[];
  min?: number;
  max?: number;
  secret?: boolean;
  /** Roles that use it; absent = every role. */
  roles?: readonly Role[];
}

const port = (def: number, help: string, roles?: Role[]): OptionSpec => ({
  kind: 'int',
  default: def,
  help: `${help} (0 = off)`,
  min: 0,
  max: 65535,
  ...(roles ? { roles } : {}),
});

/** Every option, kebab-case as on the command line. */
export const OPTIONS = {
  config: { kind: 'string', default: undefined, help: 'YAML config file; flags and env override it' },
  'node-id': {
    kind: 'string',
    default: undefined,
    help: 'unique id of this process (default: hostname-<port>)',
  },
  'redis-url': {
    roles: ['origin', 'edge', 'control-plane'],
    kind: 'string',
    default: undefined,
    help: 'redis://[:pw@]host:port[/db] or redis-sentinel://[:pw@]h1:p1,h2:p2/<master>; absent = in-memory registry (all-in-one only)',
  },
  'rtmp-port': port(1935, 'RTMP listener: publish on origins, play on edges', ['all', 'origin', 'edge']),
  'rtmps-port': port(
    0,
    'RTMPS (RTMP over TLS) listener, e.g. 1936 or 443: publish on origins, play on edges; needs --tls-cert and --tls-key',
    ['all', 'origin', 'edge'],
  ),
  'tls-cert': {
    kind: 'string',
    default: undefined,
    help: 'RTMPS: certificate chain, PEM file; re-read on SIGHUP and when the file changes',
    roles: ['all', 'origin', 'edge'],
  },
  'tls-key': {
    kind: 'string',
    default: undefined,
    help: 'RTMPS: private key of --tls-cert, PEM file; re-read with it',
    roles: ['all', 'origin', 'edge'],
  },
  'http-port': port(8080, 'viewer HTTP: HTTP-FLV, HLS, player page', ['all', 'edge']),
  'webrtc-udp-port': port(
    8189,
    'WebRTC (WHEP) media: one UDP port for every session on this node, demultiplexed by ICE username',
    ['all', 'edge'],
  ),
  'webrtc-public-ip': {
    kind: 'string',
    default: undefined,
    help: 'WebRTC: the IP address put in ICE candidates (the node or load balancer address browsers reach; default: --advertise-host)',
    roles: ['all', 'edge'],
  },
  'webrtc-max-sessions': {
    kind: 'int',
    default: 500,
    min: 0,
    help: 'WebRTC: most concurrent WHEP sessions on this node (0 = no limit beyond the viewer limits)',
    roles: ['all', 'edge'],
  },
  'internal-port': port(8081, 'origin internal HTTP that edges pull from', ['origin']),
  'admin-port': port(9090, 'admin HTTP: /metrics, /healthz, /readyz, /api/v1'),
  'grpc-port': port(50051, 'control plane gRPC', ['all', 'control-plane']),
  host: { kind: 'string', default: '0.0.0.0', help: 'address the listeners bind to' },
  'advertise-host': {
    kind: 'string',
    default: '127.0.0.1',
    help: 'how other nodes reach this one (pod IP in Kubernetes)',
  },
  'control-plane': {
    roles: ['edge'],
    kind: 'string',
    default: undefined,
    help: 'gRPC address of the control plane, host:port',
  },
  'publish-auth': {
    roles: ['all', 'origin'],
    kind: 'enum',
    default: 'open',
    values: ['open', 'keys'],
    help: 'open: the key is the stream name; keys: only channel keys may publish',
  },
  'play-auth': {
    roles: ['all', 'origin', 'edge'],
    kind: 'enum',
    default: 'open',
    values: ['open', 'signed'],
    help: 'signed: play URLs need ?expires=&sig=',
  },
  'play-secret': {
    roles: ['all', 'origin', 'edge'],
    kind: 'string',
    default: undefined,
    secret: true,
    help: 'HMAC secret for signed play URLs',
  },
  'play-secret-previous': {
    roles: ['all', 'origin', 'edge'],
    kind: 'string',
    default: undefined,
    secret: true,
    help: 'previous secret, still accepted during rotation',
  },
  'publish-takeover': {
    kind: 'enum',
    default: 'same-ip',
    values: ['same-ip', 'any'],
    help: 'open publishing: who may replace a live publisher of a name (a reconnecting encoder comes from the same address; any = whoever publishes last)',
    roles: ['all', 'origin'],
  },
  'play-bind-ip': {
    kind: 'bool',
    default: false,
    help: "signed play: accept only tokens bound to the viewer's address (relaycast sign --ip), so a copied URL or HLS key link fails elsewhere",
    roles: ['all', 'edge'],
  },
  'admin-token': {
    kind: 'string',
    default: undefined,
    secret: true,
    help: 'bearer token for the admin REST API and gRPC admin calls',
  },
  'cluster-token': {
    roles: ['origin', 'edge', 'control-plane'],
    kind: 'string',
    default: undefined,
    secret: true,
    help: 'shared secret for edge → origin pulls',
  },
  'log-level': { kind: 'enum', default: 'info', values: LOG_LEVELS, help: 'pino log level' },
  app: { kind: 'string', default: 'live', help: 'default application name shown in printed URLs' },
  workers: {
    kind: 'string',
    default: 'auto',
    help: 'HTTP viewer threads (HTTP-FLV, HLS, LL-HLS; WHEP is relayed to the main thread) listening on --http-port together: auto = one per usable core (CPUs this process may run on, capped by a cgroup/Kubernetes CPU limit; 1 on a single core keeps everything in the main thread), or a number 1..64. They pull from the main thread over loopback, so each stream is still pulled once per node. RTMP stays in the main thread',
    roles: ['all', 'edge'],
  },
  'drain-timeout': {
    roles: ['all', 'origin', 'edge'],
    kind: 'number',
    default: 0,
    min: 0,
    help: 'seconds to keep serving existing viewers after SIGTERM while refusing new ones (0 = stop at once; Ctrl-C always stops at once)',
  },
  'republish-wait': {
    roles: ['all', 'origin', 'edge'],
    kind: 'number',
    default: 30,
    min: 0,
    help: 'seconds viewers stay connected waiting for a publisher to come back',
  },
  'gop-cache-max-bytes': {
    roles: ['all', 'origin', 'edge'],
    kind: 'int',
    default: 32 * 1024 * 1024,
    min: 0,
    help: 'largest GOP kept for instant start',
  },
  'viewer-max-buffer-bytes': {
    roles: ['all', 'origin', 'edge'],
    kind: 'int',
    default: 2 * 1024 * 1024,
    min: 16 * 1024,
    help: 'socket backlog at which a viewer skips to the next keyframe',
  },
  'merge-write-ms': {
    roles: ['all', 'origin', 'edge'],
    kind: 'int',
    default: 50,
    min: 0,
    max: 1000,
    help: 'merged writes: viewers get at most one write per stream every N ms; fewer, larger writes cost ~2x less CPU per viewer at 50 ms, for at most N ms more latency (0 = a write every event-loop turn)',
  },
  'viewer-drop-after': {
    roles: ['all', 'origin', 'edge'],
    kind: 'number',
    default: 10,
    min: 0.1,
    help: 'seconds a viewer may lag before it is dropped',
  },
  'max-viewers-per-stream': {
    roles: ['all', 'origin', 'edge'],
    kind: 'int',
    default: 0,
    min: 0,
    help: '0 = unlimited',
  },
  'max-viewers-per-node': {
    roles: ['all', 'origin', 'edge'],
    kind: 'int',
    default: 0,
    min: 0,
    help: '0 = unlimited',
  },
  'max-streams': {
    roles: ['all', 'origin'],
    kind: 'int',
    default: 0,
    min: 0,
    help: 'max published streams on this node, 0 = unlimited',
  },
  'source-interface': {
    kind: 'string',
    default: undefined,
    help: 'local address that joins multicast groups for channel sources (a source URL ?interface= wins)',
    roles: ['all', 'origin'],
  },
  'source-networks': {
    kind: 'string',
    default: undefined,
    help: 'origin: comma-separated CIDRs of the source addresses (multicast groups, unicast senders) this origin can receive, e.g. 239.1.0.0/16,10.0.0.0/8; the control plane assigns channel sources only to origins whose networks hold them (absent = any)',
    roles: ['origin'],
  },
  'source-silence-timeout': {
    kind: 'number',
    default: 5,
    min: 0.5,
    help: 'seconds without a datagram before a channel source counts as silent and its stream ends',
    roles: ['all', 'origin'],
  },
  'max-connections-per-ip': {
    roles: ['all', 'origin', 'edge'],
    kind: 'int',
    default: 0,
    min: 0,
    help: 'concurrent RTMP/HTTP connections per client IP, 0 = unlimited',
  },
  'handshake-timeout': {
    roles: ['all', 'origin', 'edge'],
    kind: 'number',
    default: 10,
    min: 0.1,
    help: 'seconds an RTMP client has to finish handshake and connect',
  },
  'idle-publisher-timeout': {
    roles: ['all', 'origin'],
    kind: 'number',
    default: 20,
    min: 0,
    help: 'seconds without media before a publisher is closed, 0 = never',
  },
  'rtmp-max-message-bytes': {
    roles: ['all', 'origin', 'edge'],
    kind: 'int',
    default: 8 * 1024 * 1024,
    min: 65536,
    help: 'largest RTMP message accepted',
  },
  'rtmp-max-chunk-size': {
    roles: ['all', 'origin', 'edge'],
    kind: 'int',
    default: 16 * 1024 * 1024,
    min: 128,
    help: 'largest Set Chunk Size an RTMP peer may announce',
  },
  'amf-max-depth': {
    roles: ['all', 'origin', 'edge'],
    kind: 'int',
    default: 16,
    min: 2,
    max: 1000,
    help: 'deepest AMF nesting accepted in RTMP commands and metadata',
  },
  'amf-max-string-bytes': {
    roles: ['all', 'origin', 'edge'],
    kind: 'int',
    default: 1024 * 1024,
    min: 1024,
    help: 'longest AMF string accepted in RTMP commands and metadata',
  },
  'http-max-header-bytes': {
    kind: 'int',
    default: 16 * 1024,
    min: 1024,
    max: 1024 * 1024,
    help: 'viewer HTTP: largest request head (431 beyond it)',
    roles: ['all', 'edge'],
  },
  'http-headers-timeout': {
    kind: 'number',
    default: 15,
    min: 1,
    help: 'viewer HTTP: seconds a client has to send its request head',
    roles: ['all', 'edge'],
  },
  'http-request-timeout': {
    kind: 'number',
    default: 30,
    min: 1,
    help: 'viewer HTTP: seconds a client has to send a whole request (streaming responses are not limited)',
    roles: ['all', 'edge'],
  },
  'hls-target-duration': {
    roles: ['all', 'origin'],
    kind: 'number',
    default: 1,
    min: 0.2,
    max: 30,
    help: 'HLS target segment duration, seconds',
  },
  'hls-max-segment-duration': {
    roles: ['all', 'origin'],
    kind: 'number',
    default: 0,
    min: 0,
    max: 60,
    help: 'HLS hard segment cut for GOPs longer than this, seconds; EXT-X-TARGETDURATION is its ceiling and never changes. 0 = auto: max(2, 2 × --hls-target-duration). Set it to at least the GOP to keep every segment keyframe-aligned',
  },
  'hls-part-target': {
    roles: ['all', 'origin'],
    kind: 'number',
    default: 0.333,
    min: 0,
    max: 2,
    help: 'Low-Latency HLS (fMP4/CMAF parts) at /<app>/<name>/ll.m3u8: part target duration, seconds (segments stay ~2 s whatever the GOP). 0 = LL-HLS off. Origins package it for edges, which relay it',
  },
  'hls-variant': {
    roles: ['all', 'edge'],
    kind: 'enum',
    default: 'llhls',
    values: ['ts', 'llhls'],
    help: 'what /<app>/<name>.m3u8 serves: llhls = Low-Latency HLS (fMP4 parts; players without LL support ignore the part tags), falling back to MPEG-TS where LL-HLS is off (--hls-part-target 0 here or on the origin); ts = classic MPEG-TS HLS for set-top boxes and old players. /<app>/<name>.ts.m3u8 is always MPEG-TS, /<app>/<name>/ll.m3u8 always LL-HLS',
  },
  'hls-encryption': {
    roles: ['all', 'origin', 'edge'],
    kind: 'enum',
    default: 'none',
    values: ['none', 'aes-128'],
    help: 'aes-128: HLS segments encrypted (AES-128-CBC) by the packaging origin or all-in-one, keys in the registry, served at /<app>/<name>/keys/<id> to signed viewers only (edges and the all-in-one need --play-auth signed)',
  },
  'hls-key-rotation': {
    roles: ['all', 'origin'],
    kind: 'int',
    default: 10,
    min: 1,
    max: 1000,
    help: 'with --hls-encryption aes-128: a new key every this many segments',
  },
  'hls-window': {
    roles: ['all', 'origin'],
    kind: 'int',
    default: 6,
    min: 2,
    max: 100,
    help: 'segments kept in the live playlist',
  },
  'hls-cache-bytes': {
    roles: ['edge'],
    kind: 'int',
    default: 256 * 1024 * 1024,
    min: 1024 * 1024,
    help: 'edge: bytes of HLS segments cached in memory (LRU)',
  },
  'hls-dir': {
    roles: ['all', 'origin'],
    kind: 'string',
    default: undefined,
    help: 'also write HLS segments and playlists under this directory',
  },
  'pull-idle-timeout': {
    kind: 'number',
    default: 10,
    min: 0,
    help: 'edge: seconds a pull stays open after its last viewer left',
    roles: ['edge'],
  },
  'wait-for-stream': {
    kind: 'number',
    default: 0,
    min: 0,
    max: 60,
    help: 'edge: seconds a viewer of a stream that is not live yet waits for it before 404',
    roles: ['edge'],
  },
  'lease-name': {
    kind: 'string',
    default: 'relaycast-control-plane',
    help: 'control plane: Kubernetes Lease (or Redis lock) used for leader election',
    roles: ['control-plane'],
  },
  'leader-election': {
    kind: 'enum',
    default: 'auto',
    values: ['auto', 'kubernetes', 'redis'],
    help: 'control plane: kubernetes = a coordination.k8s.io Lease, redis = a lock in the registry; auto = kubernetes inside a pod, else redis',
    roles: ['control-plane'],
  },
  'lease-ttl': {
    kind: 'number',
    default: 5,
    min: 1,
    help: 'seconds a stream/node lease lives without renewal',
  },
  'data-dir': {
    kind: 'string',
    default: './data',
    help: 'all-in-one: directory where channels (with hashed keys) are kept across restarts; created on first start',
    roles: ['all'],
  },
  'metrics-max-streams': {
    roles: ['all', 'origin', 'edge'],
    kind: 'int',
    default: 500,
    min: 0,
    help: 'per-stream metric label cap; beyond it streams aggregate as "_other"',
  },
} satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/** Channel entries allowed in the YAML file for --publish-auth keys without a control plane. */
export interface StaticChannel {
  app: string;
  name: string;
  key: string;
  backupKey?: string;
  /** Overrides --hls-encryption for this channel. */
  hlsEncryption?: 'none' | 'aes-128';
}

/** Channel sources in the YAML file (`sources:`): MPEG-TS over UDP/RTP received by the all-in-one. */
export interface StaticSource {
  app: string;
  name: string;
  url: string;
  interfaceAddress?: string;
}

export interface Config {
  role: Role;
  nodeId: string;
  redisUrl: string | undefined;
  rtmpPort: number;
  /** 0 = no RTMPS listener. */
  rtmpsPort: number;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  httpPort: number;
  /** 0 = WHEP off. */
  webrtcUdpPort: number;
  webrtcPublicIp: string | undefined;
  webrtcMaxSessions: number;
  internalPort: number;
  adminPort: number;
  grpcPort: number;
  host: string;
  advertiseHost: string;
  controlPlane: string | undefined;
  publishAuth: 'open' | 'keys';
  playAuth: 'open' | 'signed';
  playSecret: string | undefined;
  playSecretPrevious: string | undefined;
  playBindIp: boolean;
  publishTakeover: 'same-ip' | 'any';
  adminToken: string | undefined;
  clusterToken: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  app: string;
  workers: number;
  drainTimeoutMs: number;
  republishWaitMs: number;
  gopCacheMaxBytes: number;
  viewerMaxBufferBytes: number;
  viewerDropAfterMs: number;
  mergeWriteMs: number;
  maxViewersPerStream: number;
  maxViewersPerNode: number;
  maxStreams: number;
  maxConnectionsPerIp: number;
  handshakeTimeoutMs: number;
  idlePublisherTimeoutMs: number;
  rtmpMaxMessageBytes: number;
  rtmpMaxChunkSize: number;
  amfMaxDepth: number;
  amfMaxStringBytes: number;
  httpMaxHeaderBytes: number;
  httpHeadersTimeoutMs: number;
  httpRequestTimeoutMs: number;
  hlsTargetDurationMs: number;
  hlsEncryption: 'none' | 'aes-128';
  /** LL-HLS part target; 0 = LL-HLS off. */
  hlsPartTargetMs: number;
  hlsVariant: 'ts' | 'llhls';
  hlsKeyRotation: number;
  /** Hard segment cut; fixes EXT-X-TARGETDURATION (auto resolved here, never 0). */
  hlsMaxSegmentDurationMs: number;
  hlsWindow: number;
  hlsDir: string | undefined;
  hlsCacheBytes: number;
  pullIdleTimeoutMs: number;
  waitForStreamMs: number;
  leaseTtlMs: number;
  leaseName: string;
  leaderElection: 'auto' | 'kubernetes' | 'redis';
  metricsMaxStreams: number;
  dataDir: string;
  channels: StaticChannel[];
  sources: StaticSource[];
  sourceInterface: string | undefined;
  /** Origins: CIDRs of the sources they can receive (undefined = any). */
  sourceNetworks: string[] | undefined;
  sourceSilenceTimeoutMs: number;
}

export function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function envName(name: string): string {
  return `RELAYCAST_${name.toUpperCase().replace(/-/g, '_')}`;
}

function invalid(message: string): RelaycastError {
  return new RelaycastError('RC_CONFIG_INVALID', message);
}

function coerce(name: string, spec: OptionSpec, raw: unknown, source: string): string | number | boolean {
  const where = `${source === 'flag' ? `--${name}` : source === 'env' ? envName(name) : `${camel(name)} in the config file`}`;
  if (spec.kind === 'bool') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw invalid(`${where} must be true or false, got ${JSON.stringify(raw)}`);
  }
  if (spec.kind === 'int' || spec.kind === 'number') {
    const n =
      typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
    if (!Number.isFinite(n) || (spec.kind === 'int' && !Number.isInteger(n)))
      throw invalid(
        `${where} must be ${spec.kind === 'int' ? 'a whole number' : 'a number'}, got ${JSON.stringify(raw)}`,
      );
    if (spec.min !== undefined && n < spec.min) throw invalid(`${where} must be ≥ ${spec.min}, got ${n}`);
    if (spec.max !== undefined && n > spec.max) throw invalid(`${where} must be ≤ ${spec.max}, got ${n}`);
    return n;
  }
  if (typeof raw !== 'string' && typeof raw !== 'number') throw invalid(`${where} must be a string`);
  const s = String(raw);
  if (spec.kind === 'enum' && !spec.values?.includes(s))
    throw invalid(`${where} must be one of ${spec.values?.join(', ')}, got ${JSON.stringify(s)}`);
  return s;
}

/**
 * Parses a role's command line against the option schema (node:util parseArgs, strict): an
 * unknown flag or a flag without its value is an RC_CONFIG_INVALID error naming it.
 */
export function parseArgv(
  argv: readonly string[],
  role: Role = 'all',
): {
  positionals: string[];
  flags: Map<string, string | true>;
} {
  const options: OptionTypes = Object.fromEntries(
    Object.entries(OPTIONS as Record<string, OptionSpec>).map(([name, spec]) => [
      name,
      { type: spec.kind === 'bool' ? ('boolean' as const) : ('string' as const) },
    ]),
  );
  try {
    const { positionals, flags } = parseCommandArgs(argv, options, role, 0);
    return { positionals, flags: flags as Map<string, string | true> };
  } catch (err) {
    if (err instanceof UsageError) throw invalid(err.message);
    throw err;
  }
}

function loadYaml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RelaycastError(
      'RC_CONFIG_INVALID',
      `cannot read config file ${file}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new RelaycastError(
      'RC_CONFIG_INVALID',
      `config file ${file} is not valid YAML: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw invalid(`config file ${file} must be a YAML mapping`);
  return doc as Record<string, unknown>;
}

/** --workers: a count 1..64, or auto = one per core this process may use (1 on a single core). */
/**
 * Cores this process may use: the CPUs it can run on, capped by a cgroup v2 CPU quota
 * (`cpu.max`, what a Kubernetes CPU limit becomes), which availableParallelism() does not see.
 */
export function usableCores(cpuMax = readCgroupCpuMax()): number {
  let cores = availableParallelism();
  const m = /^(\d+)\s+(\d+)/.exec(cpuMax ?? '');
  if (m && Number(m[2]) > 0) cores = Math.min(cores, Math.ceil(Number(m[1]) / Number(m[2])));
  return Math.max(1, cores);
}

function readCgroupCpuMax(): string | undefined {
  try {
    return readFileSync('/sys/fs/cgroup/cpu.max', 'utf8');
  } catch {
    return undefined; // not Linux, or cgroup v1: no quota known
  }
}

function parseWorkers(raw: string): number {
  // auto: a process per usable core; one core (or a 1-CPU limit) keeps everything in one process
  if (raw.trim() === 'auto') return Math.min(64, usableCores());
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw invalid(`--workers must be auto or a whole number 1..64, got ${JSON.stringify(raw)}`);
  return n;
}

/** '239.1.0.0/16, 10.0.0.0/8' → the list, each checked (RC_CONFIG_INVALID names a bad one). */
function parseCidrs(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw.split(',').map((c) => {
    const cidr = c.trim();
    if (!parseCidr(cidr))
      throw invalid(`--source-networks: '${cidr}' is not a CIDR such as 239.1.0.0/16 or fd00::/8`);
    return cidr;
  });
}

function parseChannels(raw: unknown): StaticChannel[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw))
    throw invalid(
      'channels in the config file must be a list of {name, key, app?, backupKey?, hlsEncryption?}',
    );
  return raw.map((c, i) => {
    if (!c || typeof c !== 'object') throw invalid(`channels[${i}] must be a mapping`);
    const { name, key, app, backupKey, hlsEncryption } = c as Record<string, unknown>;
    if (typeof name !== 'string' || !name) throw invalid(`channels[${i}].name must be a non-empty string`);
    if (typeof key !== 'string' || key.length < 8)
      throw invalid(`channels[${i}].key must be a string of 8+ characters`);
    if (backupKey !== undefined && (typeof backupKey !== 'string' || backupKey.length < 8))
      throw invalid(`channels[${i}].backupKey must be a string of 8+ characters`);
    if (hlsEncryption !== undefined && hlsEncryption !== 'none' && hlsEncryption !== 'aes-128')
      throw invalid(`channels[${i}].hlsEncryption must be none or aes-128`);
    return {
      name,
      key,
      app: typeof app === 'string' ? app : 'live',
      ...(backupKey ? { backupKey } : {}),
      ...(hlsEncryption ? { hlsEncryption } : {}),
    };
  });
}

function parseSources(raw: unknown): StaticSource[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw))
    throw invalid('sources in the config file must be a list of {name, url, interface?, app?}');
  const seen = new Set<string>();
  return raw.map((c, i) => {
    if (!c || typeof c !== 'object') throw invalid(`sources[${i}] must be a mapping`);
    const { name, url, app, interface: iface, ...rest } = c as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length)
      throw invalid(`sources[${i}]: unknown key '${unknown[0]}' (name, url, interface, app)`);
    if (typeof name !== 'string' || !name) throw invalid(`sources[${i}].name must be a non-empty string`);
    if (typeof url !== 'string') throw invalid(`sources[${i}].url must be a string`);
    const appName = typeof app === 'string' ? app : 'live';
    try {
      validateStreamName(appName, name);
      parseAnySourceUrl(url, { interfaceAddress: typeof iface === 'string' ? iface : undefined });
    } catch (err) {
      throw invalid(`sources[${i}]: ${(err as Error).message}`);
    }
    if (seen.has(`${appName}/${name}`)) throw invalid(`sources[${i}]: ${appName}/${name} has two sources`);
    seen.add(`${appName}/${name}`);
    return { app: appName, name, url, ...(typeof iface === 'string' ? { interfaceAddress: iface } : {}) };
  });
}

/**
 * Builds the config for a role from flags, env and the YAML file. Unknown flags or YAML keys are
 * errors (a typo must not silently do nothing).
 */
export function loadConfig(
  role: Role,
  flags: ReadonlyMap<string, string | true>,
  env: NodeJS.ProcessEnv = process.env,
): Config {
  const specs = OPTIONS as Record<string, OptionSpec>;
  for (const name of flags.keys()) {
    if (name === 'help') continue;
    if (!(name in specs))
      throw invalid(`unknown flag --${name}; run 'relaycast ${role} --help' for the list`);
  }
  const configFile = (flags.get('config') as string | undefined) ?? env[envName('config')];
  const yaml = configFile ? loadYaml(configFile) : {};
  const byCamel = new Map(Object.keys(specs).map((k) => [camel(k), k]));
  for (const key of Object.keys(yaml)) {
    if (key === 'channels' || key === 'sources') continue;
    if (!byCamel.has(key) && !(key in specs))
      throw invalid(
        `unknown key '${key}' in ${configFile}; keys are the flag names in camelCase, e.g. redisUrl`,
      );
  }
  const values: Record<string, string | number | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(specs)) {
    let value: string | number | boolean | undefined = spec.default;
    const fromYaml = yaml[camel(name)] ?? yaml[name];
    if (fromYaml !== undefined && fromYaml !== null) value = coerce(name, spec, fromYaml, 'file');
    const fromEnv = env[envName(name)];
    if (fromEnv !== undefined && fromEnv !== '') value = coerce(name, spec, fromEnv, 'env');
    const fromFlag = flags.get(name);
    if (fromFlag !== undefined) {
      if (fromFlag === true && spec.kind !== 'bool') throw invalid(`--${name} needs a value`);
      value = coerce(name, spec, fromFlag, 'flag');
    }
    values[name] = value;
  }
  const num = (n: OptionName) => values[n] as number;
  const str = (n: OptionName) => values[n] as string | undefined;
  const bool = (n: OptionName) => values[n] === true;
  const cfg: Config = {
    role,
    nodeId: str('node-id') ?? `${hostname()}-${num('rtmp-port') || num('http-port') || num('admin-port')}`,
    redisUrl: str('redis-url'),
    rtmpPort: num('rtmp-port'),
    rtmpsPort: role === 'control-plane' ? 0 : num('rtmps-port'),
    tlsCert: str('tls-cert'),
    tlsKey: str('tls-key'),
    httpPort: num('http-port'),
    webrtcUdpPort: role === 'all' || role === 'edge' ? num('webrtc-udp-port') : 0,
    webrtcPublicIp: str('webrtc-public-ip'),
    webrtcMaxSessions: num('webrtc-max-sessions'),
    internalPort: num('internal-port'),
    adminPort: num('admin-port'),
    grpcPort: num('grpc-port'),
    host: str('host') ?? '0.0.0.0',
    advertiseHost: str('advertise-host') ?? '127.0.0.1',
    controlPlane: str('control-plane'),
    publishAuth: str('publish-auth') as Config['publishAuth'],
    playAuth: str('play-auth') as Config['playAuth'],
    playSecret: str('play-secret'),
    playSecretPrevious: str('play-secret-previous'),
    playBindIp: bool('play-bind-ip'),
    publishTakeover: str('publish-takeover') as Config['publishTakeover'],
    adminToken: str('admin-token'),
    clusterToken: str('cluster-token'),
    logLevel: str('log-level') as Config['logLevel'],
    app: str('app') ?? 'live',
    workers: parseWorkers(str('workers') ?? 'auto'),
    drainTimeoutMs: num('drain-timeout') * 1000,
    republishWaitMs: num('republish-wait') * 1000,
    gopCacheMaxBytes: num('gop-cache-max-bytes'),
    viewerMaxBufferBytes: num('viewer-max-buffer-bytes'),
    viewerDropAfterMs: num('viewer-drop-after') * 1000,
    mergeWriteMs: num('merge-write-ms'),
    maxViewersPerStream: num('max-viewers-per-stream'),
    maxViewersPerNode: num('max-viewers-per-node'),
    maxStreams: num('max-streams'),
    maxConnectionsPerIp: num('max-connections-per-ip'),
    handshakeTimeoutMs: num('handshake-timeout') * 1000,
    idlePublisherTimeoutMs: num('idle-publisher-timeout') * 1000,
    rtmpMaxMessageBytes: num('rtmp-max-message-bytes'),
    rtmpMaxChunkSize: num('rtmp-max-chunk-size'),
    amfMaxDepth: num('amf-max-depth'),
    amfMaxStringBytes: num('amf-max-string-bytes'),
    httpMaxHeaderBytes: num('http-max-header-bytes'),
    httpHeadersTimeoutMs: num('http-headers-timeout') * 1000,
    httpRequestTimeoutMs: num('http-request-timeout') * 1000,
    hlsTargetDurationMs: Math.round(num('hls-target-duration') * 1000),
    hlsEncryption: str('hls-encryption') as Config['hlsEncryption'],
    hlsPartTargetMs: Math.round(num('hls-part-target') * 1000),
    hlsVariant: str('hls-variant') as Config['hlsVariant'],
    hlsKeyRotation: num('hls-key-rotation'),
    hlsMaxSegmentDurationMs: Math.max(
      Math.round(num('hls-target-duration') * 1000),
      Math.round(num('hls-max-segment-duration') * 1000) ||
        Math.max(2000, Math.round(num('hls-target-duration') * 2000)),
    ),
    hlsWindow: num('hls-window'),
    hlsDir: str('hls-dir'),
    hlsCacheBytes: num('hls-cache-bytes'),
    pullIdleTimeoutMs: num('pull-idle-timeout') * 1000,
    waitForStreamMs: num('wait-for-stream') * 1000,
    leaseTtlMs: num('lease-ttl') * 1000,
    leaseName: str('lease-name') ?? 'relaycast-control-plane',
    leaderElection: str('leader-election') as Config['leaderElection'],
    metricsMaxStreams: num('metrics-max-streams'),
    dataDir: str('data-dir') ?? './data',
    channels: parseChannels(yaml.channels),
    sources: parseSources(yaml.sources),
    sourceInterface: str('source-interface'),
    sourceNetworks: parseCidrs(str('source-networks')),
    sourceSilenceTimeoutMs: Math.round(num('source-silence-timeout') * 1000),
  };
  if (cfg.playAuth === 'signed' && !cfg.playSecret)
    throw invalid('--play-auth signed needs --play-secret (or RELAYCAST_PLAY_SECRET)');
  // An origin's internal port serves every stream to whoever asks unless edges must show the
  // cluster token: signed play on edges would be bypassed by asking the origin directly.
  if (cfg.playAuth === 'signed' && (cfg.role === 'origin' || cfg.role === 'edge') && !cfg.clusterToken)
    throw invalid(
      `--play-auth signed on a cluster ${cfg.role} needs --cluster-token (RELAYCAST_CLUSTER_TOKEN), the same on every origin and edge; without it anyone can pull streams unsigned from the origins' internal port`,
    );
  if (
    cfg.publishAuth === 'keys' &&
    cfg.role !== 'edge' &&
    cfg.channels.length === 0 &&
    !cfg.redisUrl &&
    cfg.role !== 'all'
  )
    throw invalid('--publish-auth keys needs channels: in the config file, or a registry (--redis-url)');
  if (cfg.hlsEncryption !== 'none' && (role === 'all' || role === 'edge') && cfg.playAuth !== 'signed')
    throw invalid(
      '--hls-encryption aes-128 hands keys to signed viewers only: add --play-auth signed and --play-secret',
    );
  if (cfg.rtmpsPort && (!cfg.tlsCert || !cfg.tlsKey)) {
    const missing = [cfg.tlsCert ? '' : '--tls-cert FILE', cfg.tlsKey ? '' : '--tls-key FILE'].filter(
      Boolean,
    );
    throw invalid(
      `--rtmps-port ${cfg.rtmpsPort} needs a certificate: add ${missing.join(' and ')} (PEM files; see README "RTMPS" for making one)`,
    );
  }
  if (cfg.rtmpsPort && cfg.rtmpsPort === cfg.rtmpPort)
    throw invalid(
      `--rtmps-port and --rtmp-port are both ${cfg.rtmpPort}; give RTMPS its own port, e.g. 1936`,
    );
  if ((role === 'origin' || role === 'edge' || role === 'control-plane') && !cfg.redisUrl)
    throw invalid(`the ${role} role needs --redis-url (only 'relaycast all' runs without Redis)`);
  return cfg;
}

/** `--help` text for a role, from the schema. */
export function renderHelp(role: Role | undefined): string {
  const lines: string[] = [];
  for (const [name, spec] of Object.entries(OPTIONS as Record<string, OptionSpec>)) {
    if (role && spec.roles && !spec.roles.includes(role)) continue;
    const def = spec.default === undefined ? '' : ` (default: ${spec.default})`;
    const values = spec.values ? ` [${spec.values.join('|')}]` : '';
    lines.push(`  --${name}${values}\n      ${spec.help}${def}; env ${envName(name)}`);
  }
  return lines.join('\n');
}

/** Config as JSON with secrets masked (for logs and the admin API). */
export function redactedConfig(cfg: Config): Record<string, unknown> {
  return {
    ...cfg,
    playSecret: cfg.playSecret ? '***' : undefined,
    playSecretPrevious: cfg.playSecretPrevious ? '***' : undefined,
    adminToken: cfg.adminToken ? '***' : undefined,
    clusterToken: cfg.clusterToken ? '***' : undefined,
    redisUrl: cfg.redisUrl?.replace(/\/\/([^@/]*)@/, '//***@'),
    channels: cfg.channels.map((c) => ({ app: c.app, name: c.name })),
    sources: cfg.sources.map((c) => ({ app: c.app, name: c.name, url: c.url })),
  };
}
