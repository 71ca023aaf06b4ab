/**
 * The registry: where streams, nodes, channels and routes live. One interface, two
 * implementations — MemoryRegistry for the all-in-one and tests, RedisRegistry for clusters —
 * checked by one contract suite (contract.ts).
 *
 * Events: 'event' (RegistryEvent), 'error' (Error), 'connection' ('up' | 'down').
 */
import type { EventEmitter } from 'node:events';
import { MemoryRegistry } from './memory.ts';
import { RedisRegistry } from './redis.ts';
import type {
  ChannelRecord,
  FenceToken,
  ForwardStatus,
  NodeRecord,
  PublisherRole,
  RegistryEvent,
  SourceAssignment,
  SourceStatusRecord,
  StreamRecord,
  SwitchRecord,
} from './types.ts';

export type RegisterResult = { ok: true; previous?: StreamRecord } | { ok: false; current: StreamRecord };

export interface Registry extends EventEmitter {
  readonly kind: 'memory' | 'redis';
  start(): Promise<void>;
  close(): Promise<void>;
  nextGeneration(app: string, name: string): Promise<number>;
  /**
   * Succeeds when there is no record, the stored generation is lower (a newer publish takes over),
   * or it is the same session re-registering (after a Redis restart).
   */
  registerStream(rec: Omit<StreamRecord, 'updatedAt'>, leaseTtlMs: number): Promise<RegisterResult>;
  renewStream(
    app: string,
    name: string,
    generation: number,
    leaseTtlMs: number,
    patch?: Partial<Pick<StreamRecord, 'codecs' | 'bitrateKbps' | 'lastMediaAt'>>,
    role?: PublisherRole,
  ): Promise<boolean>;
  unregisterStream(
    app: string,
    name: string,
    generation: number,
    reason: string,
    role?: PublisherRole,
  ): Promise<boolean>;
  getStream(app: string, name: string, role?: PublisherRole): Promise<StreamRecord | undefined>;
  listStreams(): Promise<StreamRecord[]>;
  heartbeatNode(rec: Omit<NodeRecord, 'updatedAt'>, leaseTtlMs: number): Promise<void>;
  removeNode(id: string): Promise<void>;
  listNodes(): Promise<NodeRecord[]>;
  putChannel(rec: ChannelRecord, opts?: { onlyIfAbsent?: boolean }): Promise<boolean>;
  getChannel(app: string, name: string): Promise<ChannelRecord | undefined>;
  findChannelByKeyHash(keyHash: string): Promise<{ channel: ChannelRecord; role: PublisherRole } | undefined>;
  deleteChannel(app: string, name: string): Promise<boolean>;
  listChannels(): Promise<ChannelRecord[]>;
  /**
   * Points the channel's route at `role`, appends to its switch history and announces
   * route-changed. With a fence, the write is refused (returns false) when a higher token for the
   * same fence name has been seen: a deposed leader cannot switch.
   */
  setActiveRole(
    app: string,
    name: string,
    role: PublisherRole,
    reason: string,
    opts?: { fence?: FenceToken; by?: string },
  ): Promise<boolean>;
  /** Switch history, newest first (at most MAX_SWITCH_HISTORY). */
  listSwitches(app: string, name: string): Promise<SwitchRecord[]>;
  getActiveRole(app: string, name: string): Promise<PublisherRole>;
  tryAcquireLock(
    name: string,
    holder: string,
    ttlMs: number,
  ): Promise<{ acquired: boolean; token: number; holder?: string }>;
  renewLock(name: string, holder: string, token: number, ttlMs: number): Promise<boolean>;
  releaseLock(name: string, holder: string, token: number): Promise<void>;
  publish(event: RegistryEvent): Promise<void>;
  /**
   * Encrypted HLS: the 16-byte AES-128 key `id` of stream <app>/<name>, kept for `ttlMs` (the
   * playlist window plus the segments' retention) so any node can serve it to signed viewers.
   */
  putHlsKey(app: string, name: string, id: string, key: Buffer, ttlMs: number): Promise<void>;
  getHlsKey(app: string, name: string, id: string): Promise<Buffer | undefined>;
  /** The forwards of channel <app>/<name> as the node running them last reported (TTL `ttlMs`). */
  putForwardStatus(app: string, name: string, status: ForwardStatus[], ttlMs: number): Promise<void>;
  getForwardStatus(app: string, name: string): Promise<ForwardStatus[]>;
  /** The origin a channel's source is assigned to (undefined: none); the leader writes it. */
  putSourceAssignment(app: string, name: string, assignment: SourceAssignment | undefined): Promise<void>;
  getSourceAssignment(app: string, name: string): Promise<SourceAssignment | undefined>;
  /** The receiving origin's report on a channel source (TTL `ttlMs`). */
  putSourceStatus(app: string, name: string, status: SourceStatusRecord, ttlMs: number): Promise<void>;
  getSourceStatus(app: string, name: string): Promise<SourceStatusRecord | undefined>;
}

export function createRegistry(options: { redisUrl?: string | undefined; keyPrefix?: string }): Registry {
  if (!options.redisUrl) return new MemoryRegistry();
  return new RedisRegistry(options.redisUrl, options.keyPrefix);
}
