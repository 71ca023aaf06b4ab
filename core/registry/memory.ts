/** In-process registry with the same semantics as RedisRegistry (leases, fencing, async events). */
import { EventEmitter } from 'node:events';
import type { ChannelStore } from './channel-store.ts';
import type { RegisterResult, Registry } from './registry.ts';
import {
  type ChannelRecord,
  type FenceToken,
  type ForwardStatus,
  MAX_SWITCH_HISTORY,
  type NodeRecord,
  type PublisherRole,
  type RegistryEvent,
  type SourceAssignment,
  type SourceStatusRecord,
  type StreamRecord,
  type SwitchRecord,
} from './types.ts';

interface Leased<T> {
  value: T;
  expiresAt: number;
}

export class MemoryRegistry extends EventEmitter implements Registry {
  readonly kind = 'memory' as const;
  private readonly streams = new Map<string, Leased<StreamRecord>>();
  private readonly generations = new Map<string, number>();
  private readonly nodes = new Map<string, Leased<NodeRecord>>();
  private readonly channels = new Map<string, ChannelRecord>();
  private readonly keyIndex = new Map<string, string>();
  private readonly routes = new Map<string, PublisherRole>();
  private readonly locks = new Map<string, Leased<{ holder: string; token: number }>>();
  private readonly lockTokens = new Map<string, number>();
  private readonly fences = new Map<string, number>();
  private readonly switches = new Map<string, SwitchRecord[]>();
  private readonly hlsKeys = new Map<string, Leased<Buffer>>();
  private readonly forwardStatus = new Map<string, Leased<ForwardStatus[]>>();
  private readonly sourceAssignments = new Map<string, SourceAssignment>();
  private readonly sourceStatus = new Map<string, Leased<SourceStatusRecord>>();
  private closed = false;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly store: ChannelStore | undefined;

  /** With a `store`, channels survive a restart (the all-in-one's --data-dir); the rest is live state. */
  constructor(options: { store?: ChannelStore } = {}) {
    super();
    this.store = options.store;
  }

  async start(): Promise<void> {
    for (const rec of this.store?.load() ?? []) this.indexChannel(rec);
    // Expired stream leases announce themselves, like an origin that vanished.
    this.sweeper = setInterval(() => this.sweep(), 250);
    this.sweeper.unref();
    this.emit('connection', 'up');
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, l] of this.streams) {
      if (l.expiresAt <= now) {
        this.streams.delete(k);
        const s = l.value;
        this.emitEvent({
          type: 'stream-down',
          app: s.app,
          name: s.name,
          role: s.role ?? 'primary',
          generation: s.generation,
          originNodeId: s.originNodeId,
          reason: 'lease-expired',
        });
      }
    }
  }

  private live<T>(map: Map<string, Leased<T>>, key: string): T | undefined {
    const l = map.get(key);
    if (!l) return undefined;
    if (l.expiresAt <= Date.now()) {
      map.delete(key);
      return undefined;
    }
    return l.value;
  }

  private emitEvent(e: RegistryEvent): void {
    if (this.closed) return;
    setImmediate(() => this.emit('event', e));
  }

  private sk(app: string, name: string, role: PublisherRole = 'primary'): string {
    return `${app}/${name}:${role}`;
  }

  async nextGeneration(app: string, name: string): Promise<number> {
    const k = `${app}/${name}`;
    const g = (this.generations.get(k) ?? 0) + 1;
    this.generations.set(k, g);
    return g;
  }

  async registerStream(rec: Omit<StreamRecord, 'updatedAt'>, leaseTtlMs: number): Promise<RegisterResult> {
    const key = this.sk(rec.app, rec.name, rec.role);
    const current = this.live(this.streams, key);
    if (
      current &&
      current.generation >= rec.generation &&
      !(current.generation === rec.generation && current.sessionId === rec.sessionId)
    )
      return { ok: false, current };
    const value: StreamRecord = { ...rec, updatedAt: Date.now() };
    this.streams.set(key, { value, expiresAt: Date.now() + leaseTtlMs });
    const genKey = `${rec.app}/${rec.role === 'backup' ? `${rec.name}~backup` : rec.name}`;
    if ((this.generations.get(genKey) ?? 0) < rec.generation) this.generations.set(genKey, rec.generation);
    if (current && current.sessionId !== rec.sessionId)
      this.emitEvent({ type: 'stream-moved', stream: value, previousOriginNodeId: current.originNodeId });
    else this.emitEvent({ type: 'stream-up', stream: value });
    return current && current.sessionId !== rec.sessionId ? { ok: true, previous: current } : { ok: true };
  }

  async renewStream(
    app: string,
    name: string,
    generation: number,
    leaseTtlMs: number,
    patch?: Partial<Pick<StreamRecord, 'codecs' | 'bitrateKbps' | 'lastMediaAt'>>,
    role: PublisherRole = 'primary',
  ): Promise<boolean> {
    const key = this.sk(app, name, role);
    const current = this.live(this.streams, key);
    if (!current || current.generation !== generation) return false;
    this.streams.set(key, {
      value: { ...current, ...patch, updatedAt: Date.now() },
      expiresAt: Date.now() + leaseTtlMs,
    });
    return true;
  }

  async unregisterStream(
    app: string,
    name: string,
    generation: number,
    reason: string,
    role: PublisherRole = 'primary',
  ): Promise<boolean> {
    const key = this.sk(app, name, role);
    const current = this.live(this.streams, key);
    if (!current || current.generation !== generation) return false;
    this.streams.delete(key);
    this.emitEvent({
      type: 'stream-down',
      app,
      name,
      role,
      generation,
      originNodeId: current.originNodeId,
      reason,
    });
    return true;
  }

  async getStream(
    app: string,
    name: string,
    role: PublisherRole = 'primary',
  ): Promise<StreamRecord | undefined> {
    return this.live(this.streams, this.sk(app, name, role));
  }

  async listStreams(): Promise<StreamRecord[]> {
    const out: StreamRecord[] = [];
    for (const k of [...this.streams.keys()]) {
      const v = this.live(this.streams, k);
      if (v) out.push(v);
    }
    return out;
  }

  async heartbeatNode(rec: Omit<NodeRecord, 'updatedAt'>, leaseTtlMs: number): Promise<void> {
    this.nodes.set(rec.id, { value: { ...rec, updatedAt: Date.now() }, expiresAt: Date.now() + leaseTtlMs });
  }

  async removeNode(id: string): Promise<void> {
    this.nodes.delete(id);
  }

  async listNodes(): Promise<NodeRecord[]> {
    const out: NodeRecord[] = [];
    for (const k of [...this.nodes.keys()]) {
      const v = this.live(this.nodes, k);
      if (v) out.push(v);
    }
    return out;
  }

  async putChannel(rec: ChannelRecord, opts?: { onlyIfAbsent?: boolean }): Promise<boolean> {
    const old = this.channels.get(`${rec.app}/${rec.name}`);
    if (old && opts?.onlyIfAbsent) return false;
    if (old) this.unindexChannel(old);
    this.indexChannel({ ...rec });
    this.persist(() => {
      this.unindexChannel(rec);
      if (old) this.indexChannel(old);
    });
    return true;
  }

  private indexChannel(rec: ChannelRecord): void {
    const key = `${rec.app}/${rec.name}`;
    this.channels.set(key, rec);
    this.keyIndex.set(rec.keyHash, `${key}|primary`);
    if (rec.backupKeyHash) this.keyIndex.set(rec.backupKeyHash, `${key}|backup`);
  }

  private unindexChannel(rec: ChannelRecord): void {
    this.channels.delete(`${rec.app}/${rec.name}`);
    this.keyIndex.delete(rec.keyHash);
    if (rec.backupKeyHash) this.keyIndex.delete(rec.backupKeyHash);
  }

  /** Saves the channels; if that fails, `undo` restores the previous state and the error is thrown. */
  private persist(undo: () => void): void {
    if (!this.store) return;
    try {
      this.store.save([...this.channels.values()]);
    } catch (err) {
      undo();
      throw err;
    }
  }

  async getChannel(app: string, name: string): Promise<ChannelRecord | undefined> {
    return this.channels.get(`${app}/${name}`);
  }

  async findChannelByKeyHash(
    keyHash: string,
  ): Promise<{ channel: ChannelRecord; role: PublisherRole } | undefined> {
    const ref = this.keyIndex.get(keyHash);
    if (!ref) return undefined;
    const [key, role] = ref.split('|') as [string, PublisherRole];
    const channel = this.channels.get(key);
    return channel ? { channel, role } : undefined;
  }

  async deleteChannel(app: string, name: string): Promise<boolean> {
    const old = this.channels.get(`${app}/${name}`);
    if (!old) return false;
    this.unindexChannel(old);
    this.persist(() => this.indexChannel(old));
    return true;
  }

  async listChannels(): Promise<ChannelRecord[]> {
    return [...this.channels.values()];
  }

  async setActiveRole(
    app: string,
    name: string,
    role: PublisherRole,
    reason: string,
    opts?: { fence?: FenceToken; by?: string },
  ): Promise<boolean> {
    if (opts?.fence) {
      const seen = this.fences.get(opts.fence.name) ?? 0;
      if (opts.fence.token < seen) return false;
      this.fences.set(opts.fence.name, opts.fence.token);
    }
    const id = `${app}/${name}`;
    const from = this.routes.get(id) ?? 'primary';
    this.routes.set(id, role);
    const list = this.switches.get(id) ?? [];
    list.unshift({ at: Date.now(), from, to: role, reason, by: opts?.by ?? 'admin' });
    list.length = Math.min(list.length, MAX_SWITCH_HISTORY);
    this.switches.set(id, list);
    this.emitEvent({ type: 'route-changed', app, name, activeRole: role, reason });
    return true;
  }

  async listSwitches(app: string, name: string): Promise<SwitchRecord[]> {
    return [...(this.switches.get(`${app}/${name}`) ?? [])];
  }

  async getActiveRole(app: string, name: string): Promise<PublisherRole> {
    return this.routes.get(`${app}/${name}`) ?? 'primary';
  }

  async tryAcquireLock(
    name: string,
    holder: string,
    ttlMs: number,
  ): Promise<{ acquired: boolean; token: number; holder?: string }> {
    const cur = this.live(this.locks, name);
    if (cur && cur.holder !== holder) return { acquired: false, token: cur.token, holder: cur.holder };
    let token = cur?.token;
    if (token === undefined) {
      token = (this.lockTokens.get(name) ?? 0) + 1;
      this.lockTokens.set(name, token);
    }
    this.locks.set(name, { value: { holder, token }, expiresAt: Date.now() + ttlMs });
    return { acquired: true, token, holder };
  }

  async renewLock(name: string, holder: string, token: number, ttlMs: number): Promise<boolean> {
    const cur = this.live(this.locks, name);
    if (!cur || cur.holder !== holder || cur.token !== token) return false;
    this.locks.set(name, { value: cur, expiresAt: Date.now() + ttlMs });
    return true;
  }

  async releaseLock(name: string, holder: string, token: number): Promise<void> {
    const cur = this.live(this.locks, name);
    if (cur && cur.holder === holder && cur.token === token) this.locks.delete(name);
  }

  async publish(event: RegistryEvent): Promise<void> {
    this.emitEvent(event);
  }

  async putHlsKey(app: string, name: string, id: string, key: Buffer, ttlMs: number): Promise<void> {
    const now = Date.now();
    // Drop expired keys here: a long stream rotates keys for as long as it runs.
    for (const [k, l] of this.hlsKeys) if (l.expiresAt <= now) this.hlsKeys.delete(k);
    this.hlsKeys.set(`${app}/${name}:${id}`, { value: Buffer.from(key), expiresAt: now + ttlMs });
  }

  async getHlsKey(app: string, name: string, id: string): Promise<Buffer | undefined> {
    const l = this.hlsKeys.get(`${app}/${name}:${id}`);
    if (!l || l.expiresAt <= Date.now()) return undefined;
    return Buffer.from(l.value);
  }

  async putForwardStatus(app: string, name: string, status: ForwardStatus[], ttlMs: number): Promise<void> {
    this.forwardStatus.set(`${app}/${name}`, {
      value: structuredClone(status),
      expiresAt: Date.now() + ttlMs,
    });
  }

  async putSourceAssignment(
    app: string,
    name: string,
    assignment: SourceAssignment | undefined,
  ): Promise<void> {
    if (assignment) this.sourceAssignments.set(`${app}/${name}`, structuredClone(assignment));
    else this.sourceAssignments.delete(`${app}/${name}`);
  }

  async getSourceAssignment(app: string, name: string): Promise<SourceAssignment | undefined> {
    const a = this.sourceAssignments.get(`${app}/${name}`);
    return a ? structuredClone(a) : undefined;
  }

  async putSourceStatus(app: string, name: string, status: SourceStatusRecord, ttlMs: number): Promise<void> {
    this.sourceStatus.set(`${app}/${name}`, {
      value: structuredClone(status),
      expiresAt: Date.now() + ttlMs,
    });
  }

  async getSourceStatus(app: string, name: string): Promise<SourceStatusRecord | undefined> {
    const l = this.live(this.sourceStatus, `${app}/${name}`);
    return l ? structuredClone(l) : undefined;
  }

  async getForwardStatus(app: string, name: string): Promise<ForwardStatus[]> {
    const l = this.live(this.forwardStatus, `${app}/${name}`);
    return l ? structuredClone(l) : [];
  }
}
