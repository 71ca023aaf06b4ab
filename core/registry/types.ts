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
  startedAt: number;
  updatedAt: number;
  version: string;
}

export interface ChannelRecord {
  name: string;
  app: string;
  /** sha256 hex of the publish key; the plain key is never stored. */
  keyHash: string;
  backupKeyHash?: string;
  createdAt: number;
  failover: { autoRevert: boolean; revertAfterMs: number; noMediaTimeoutMs: number };
}

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
  | { type: 'kick'; app: string; name: string; generation?: number; reason: string }
  | { type: 'node-draining'; nodeId: string };
