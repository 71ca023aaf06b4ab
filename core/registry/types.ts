/** Records the registry holds (see schema.ts for where they live in Redis). */
export interface StreamKey {
  app: string;
  name: string;
}

export function streamId(k: StreamKey): string {
  return `${k.app}/${k.name}`;
}

export type PublisherRole = 'primary' | 'backup';

export interface StreamRecord {
  app: string;
  name: string;
  originNodeId: string;
  /** Base URL of the origin's internal HTTP, e.g. http://10.0.0.5:8081 */
  originUrl: string;
  /** Publish session id (random, per publish). */
  sessionId: string;
  /** The encoder's address (open publishing lets only it take the stream over). */
  publisherIp?: string;
  /** Monotonic per stream (INCR), the fencing token of a publish. */
  generation: number;
  startedAt: number;
  role?: PublisherRole;
  codecs?: {
    video?: {
      codec: string;
      width?: number;
      height?: number;
      frameRate?: number;
      profile?: string;
      level?: number;
    };
    audio?: { codec: string; sampleRateHz?: number; channels?: number; profile?: string };
  };
  bitrateKbps?: number;
  /** Last time the origin saw media from this publisher (as of its last renewal). */
  lastMediaAt?: number;
  updatedAt: number;
}

export interface NodeRecord {
  id: string;
  role: 'origin' | 'edge' | 'control-plane' | 'all';
  advertiseHost: string;
  internalUrl?: string;
  httpUrl?: string;
  rtmpUrl?: string;
  grpcUrl?: string;
  adminUrl?: string;
  load: { streams: number; viewers: number; egressMbps: number; ingressMbps: number };
  draining: boolean;
  /** Control plane replicas: whether this one is the leader. */
  leader?: boolean;
  /** Origins: the networks (CIDRs) whose multicast/UDP sources it can receive (--source-networks);
   * absent = any. */
  sourceNetworks?: string[];
  startedAt: number;
  updatedAt: number;
  version: string;
}

/** A channel's MPEG-TS source (udp:// or rtp://, see core/source-url.ts), received by the all-in-one. */
export interface ChannelSource {
  url: string;
  interfaceAddress?: string;
}

export interface ChannelRecord {
  name: string;
  app: string;
  /** sha256 hex of the publish key; the plain key is never stored. */
  keyHash: string;
  backupKeyHash?: string;
  createdAt: number;
  failover: { autoRevert: boolean; revertAfterMs: number; noMediaTimeoutMs: number };
  source?: ChannelSource;
  /** A second source that takes over when `source` (or the primary publisher) stops or goes silent,
   * published as the channel's backup (`<name>~backup`). */
  backupSource?: ChannelSource;
  /** HLS encryption of this channel's stream; absent = the packaging node's --hls-encryption. */
  hlsEncryption?: HlsEncryption;
  /** Where the channel's live stream is pushed on to (rtmp:// or rtmps:// with the key). */
  forwards?: ChannelForward[];
}

/** One push destination of a channel. `url` holds the destination's stream key: never log it or
 * return it whole (core/forward-url.ts redactUrl). */
export interface ChannelForward {
  /** Short stable id (`forward remove` takes it). */
  id: string;
  url: string;
}

/** How a forward is doing, as the node forwarding it reports it (registry, short TTL). */
export interface ForwardStatus {
  id: string;
  /** The destination with its key replaced by *** */
  url: string;
  state: 'connecting' | 'live' | 'retrying' | 'stopped';
  since: number;
  bytesSent: number;
  reconnects: number;
  skips: number;
  lastError?: string;
  /** The node forwarding it, and the publisher role it follows. */
  nodeId: string;
  role: PublisherRole;
}

export type HlsEncryption = 'none' | 'aes-128';

export type RegistryEvent =
  | { type: 'stream-up'; stream: StreamRecord }
  | {
      type: 'stream-down';
      app: string;
      name: string;
      role: PublisherRole;
      generation: number;
      originNodeId: string;
      reason: string;
    }
  | { type: 'stream-moved'; stream: StreamRecord; previousOriginNodeId: string }
  | { type: 'route-changed'; app: string; name: string; activeRole: PublisherRole; reason: string }
  | { type: 'kick'; app: string; name: string; generation?: number; role?: PublisherRole; reason: string }
  | { type: 'node-draining'; nodeId: string }
  /** An operator asks a node to stop taking new publishers/viewers (DrainNode). */
  | { type: 'drain-request'; nodeId: string }
  /** An operator lets a drained node take new publishers/viewers again (UndrainNode). */
  | { type: 'undrain-request'; nodeId: string }
  /** The leader (re)assigned a channel's source to an origin (or took it away: nodeId ''). */
  | { type: 'source-assigned'; app: string; name: string; nodeId: string };

/** Which origin receives a channel's source, as the control plane leader decided. */
export interface SourceAssignment {
  nodeId: string;
  /** Date.now() of the decision. */
  at: number;
  /** Why: 'new', 'origin-gone', 'silent', 'draining', 'network'. */
  reason: string;
}

/** How a channel's source is received, as the origin receiving it reports (short TTL). */
export interface SourceStatusRecord {
  nodeId: string;
  state: string;
  bitrateKbps: number;
  ccErrors: number;
  packets: number;
  /** Date.now() of the last datagram, 0 = none yet. */
  lastPacketAt: number;
  /** Date.now() since when it has been silent (state 'silent'), else 0. */
  silentSince: number;
}

/**
 * `<app>/<name>` of the stream an event is about, for the events that concern one stream's route
 * (stream-up/-moved/-down, route-changed); undefined for node and kick events.
 */
export function routeEventStreamId(e: RegistryEvent): string | undefined {
  if (e.type === 'stream-up' || e.type === 'stream-moved') return streamId(e.stream);
  if (e.type === 'stream-down' || e.type === 'route-changed') return streamId(e);
  return undefined;
}

/** One change of a channel's active publisher (kept, newest first, per stream). */
export interface SwitchRecord {
  at: number;
  from: PublisherRole;
  to: PublisherRole;
  reason: string;
  /** Control plane replica that decided it, or 'admin'. */
  by: string;
}

/** The leader's fencing token for writes it makes as leader (see control-plane/leader.ts). */
export interface FenceToken {
  name: string;
  token: number;
}

export const MAX_SWITCH_HISTORY = 50;
