/**
 * Redis registry (ioredis), standalone or through Sentinel. Writes that need fencing run as Lua
 * scripts so check-and-set is atomic. While Redis is down calls fail fast (no offline queue);
 * callers retry on their own timers, and re-register when the connection comes back.
 * Redis Cluster is not supported (scripts touch keys derived inside the script).
 */
import { EventEmitter } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
import type { RegisterResult, Registry } from './registry.ts';
import { DEFAULT_KEY_PREFIX, keys, type RegistryKeys } from './schema.ts';
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

/** `redis://[:pw@]host:port[/db]` or `redis-sentinel://[:pw@]h1:p1,h2:p2/<master>[?db=N]` → ioredis options. */
export function parseRedisUrl(url: string): RedisOptions {
  const sentinel = /^redis-sentinel:\/\/(?:(?:([^:@/]*):)?([^@/]*)@)?([^/?]+)\/([^/?]+)(?:\?(.*))?$/.exec(
    url,
  );
  if (sentinel) {
    const [, , password, hosts, name, query] = sentinel;
    const params = new URLSearchParams(query ?? '');
    const sentinels = hosts!.split(',').map((h) => {
      const [host, port] = h.split(':');
      return { host: host!, port: Number(port ?? 26379) };
    });
    const opts: RedisOptions = { sentinels, name: decodeURIComponent(name!) };
    if (password) {
      opts.password = decodeURIComponent(password);
      if (params.get('sentinelPassword') !== null) opts.sentinelPassword = params.get('sentinelPassword')!;
    }
    if (params.get('db')) opts.db = Number(params.get('db'));
    return opts;
  }
  if (!/^rediss?:\/\//.test(url))
    throw new Error(
      `cannot read redis URL '${url.replace(/\/\/[^@]*@/, '//***@')}': use redis://host:port or redis-sentinel://h1:p1,h2:p2/master`,
    );
  const u = new URL(url);
  const opts: RedisOptions = { host: u.hostname, port: Number(u.port || 6379) };
  if (u.password) opts.password = decodeURIComponent(u.password);
  if (u.username) opts.username = decodeURIComponent(u.username);
  if (u.pathname.length > 1) opts.db = Number(u.pathname.slice(1));
  if (u.protocol === 'rediss:') opts.tls = {};
  return opts;
}

const REGISTER = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local c = cjson.decode(cur)
  local g = tonumber(ARGV[2])
  if c.generation > g or (c.generation == g and c.sessionId ~= ARGV[3]) then return {0, cur} end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
-- a re-registration after Redis lost its data restores the counter, so the next publish
-- anywhere still draws a higher generation
local counter = tonumber(redis.call('GET', KEYS[2]) or '0')
if counter < tonumber(ARGV[2]) then redis.call('SET', KEYS[2], ARGV[2]) end
if cur then return {1, cur} end
return {1}`;

const RENEW = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local c = cjson.decode(cur)
if c.generation ~= tonumber(ARGV[1]) then return 0 end
if ARGV[3] ~= '' then
  for k, v in pairs(cjson.decode(ARGV[3])) do c[k] = v end
end
c.updatedAt = tonumber(ARGV[4])
redis.call('SET', KEYS[1], cjson.encode(c), 'PX', ARGV[2])
return 1`;

const UNREGISTER = `
local cur = redis.call('GET', KEYS[1])
if not cur then return false end
if cjson.decode(cur).generation ~= tonumber(ARGV[1]) then return false end
redis.call('DEL', KEYS[1])
return cur`;

const PUT_CHANNEL = `
local old = redis.call('GET', KEYS[1])
if old and ARGV[2] == '1' then return 0 end
if old then
  local o = cjson.decode(old)
  redis.call('DEL', ARGV[3] .. 'keyidx:' .. o.keyHash)
  if o.backupKeyHash then redis.call('DEL', ARGV[3] .. 'keyidx:' .. o.backupKeyHash) end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', ARGV[3] .. 'keyidx:' .. ARGV[5], ARGV[4] .. '|primary')
if ARGV[6] ~= '' then redis.call('SET', ARGV[3] .. 'keyidx:' .. ARGV[6], ARGV[4] .. '|backup') end
return 1`;

const DELETE_CHANNEL = `
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
local o = cjson.decode(old)
redis.call('DEL', ARGV[1] .. 'keyidx:' .. o.keyHash)
if o.backupKeyHash then redis.call('DEL', ARGV[1] .. 'keyidx:' .. o.backupKeyHash) end
redis.call('DEL', KEYS[1])
return 1`;

// KEYS: route, switches, fence (or '' when unfenced). ARGV: role, switch JSON (without from),
// fence token, history length, event channel, event JSON.
const SET_ROUTE = `
if KEYS[3] ~= '' then
  local seen = tonumber(redis.call('GET', KEYS[3]) or '0')
  if tonumber(ARGV[3]) < seen then return 0 end
  redis.call('SET', KEYS[3], ARGV[3])
end
local from = redis.call('GET', KEYS[1]) or 'primary'
redis.call('SET', KEYS[1], ARGV[1])
local rec = cjson.decode(ARGV[2])
rec['from'] = from
redis.call('LPUSH', KEYS[2], cjson.encode(rec))
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1`;

const ACQUIRE = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, '|', 1, true)
  local h = string.sub(cur, 1, sep - 1)
  local t = tonumber(string.sub(cur, sep + 1))
  if h ~= ARGV[1] then return {0, t, h} end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, t, h}
end
local t = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. t, 'PX', ARGV[2])
return {1, t, ARGV[1]}`;

const RENEW_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export class RedisRegistry extends EventEmitter implements Registry {
  readonly kind = 'redis' as const;
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly k: RegistryKeys;
  private up = false;
  private closed = false;

  constructor(url: string, keyPrefix = DEFAULT_KEY_PREFIX) {
    super();
    this.k = keys(keyPrefix);
    const base: RedisOptions = {
      ...parseRedisUrl(url),
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 2000,
      commandTimeout: 3000,
      retryStrategy: (times) => Math.min(times * 100, 1000),
    };
    this.redis = new Redis(base);
    // The subscriber queues its SUBSCRIBE until connected; ioredis re-subscribes after reconnects.
    this.sub = new Redis({ ...base, enableOfflineQueue: true, commandTimeout: undefined });
    for (const conn of [this.redis, this.sub]) {
      conn.on('error', (err: Error) => {
        if (this.listenerCount('error') > 0) this.emit('error', err);
      });
    }
    this.redis.on('ready', () => this.setUp(true));
    this.redis.on('close', () => this.setUp(false));
    this.sub.on('message', (_channel: string, message: string) => {
      try {
        this.emit('event', JSON.parse(message) as RegistryEvent);
      } catch {
        /* not ours */
      }
    });
  }

  private setUp(up: boolean): void {
    if (this.closed || up === this.up) return;
    this.up = up;
    this.emit('connection', up ? 'up' : 'down');
  }

  async start(): Promise<void> {
    await this.redis.connect();
    await this.sub.connect();
    await this.sub.subscribe(this.k.events);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.redis.disconnect();
    this.sub.disconnect();
  }

  private evalScript(script: string, keyList: string[], args: (string | number)[]): Promise<unknown> {
    return this.redis.eval(script, keyList.length, ...keyList, ...args.map(String));
  }

  async publish(event: RegistryEvent): Promise<void> {
    await this.redis.publish(this.k.events, JSON.stringify(event));
  }

  async nextGeneration(app: string, name: string): Promise<number> {
    return this.redis.incr(this.k.generation(app, name));
  }

  async registerStream(rec: Omit<StreamRecord, 'updatedAt'>, leaseTtlMs: number): Promise<RegisterResult> {
    const value: StreamRecord = { ...rec, updatedAt: Date.now() };
    const key = this.k.stream(rec.app, rec.name, rec.role ?? 'primary');
    // the same counter nextGeneration() uses (origins count backups under <name>~backup)
    const genKey = this.k.generation(rec.app, rec.role === 'backup' ? `${rec.name}~backup` : rec.name);
    const res = (await this.evalScript(
      REGISTER,
      [key, genKey],
      [JSON.stringify(value), rec.generation, rec.sessionId, leaseTtlMs],
    )) as [number, string?];
    const current = res[1] ? (JSON.parse(res[1]) as StreamRecord) : undefined;
    if (res[0] === 0) return { ok: false, current: current! };
    const replaced = current && current.sessionId !== rec.sessionId ? current : undefined;
    await this.publish(
      replaced
        ? { type: 'stream-moved', stream: value, previousOriginNodeId: replaced.originNodeId }
        : { type: 'stream-up', stream: value },
    );
    return replaced ? { ok: true, previous: replaced } : { ok: true };
  }

  async renewStream(
    app: string,
    name: string,
    generation: number,
    leaseTtlMs: number,
    patch?: Partial<Pick<StreamRecord, 'codecs' | 'bitrateKbps' | 'lastMediaAt'>>,
    role: PublisherRole = 'primary',
  ): Promise<boolean> {
    const res = await this.evalScript(
      RENEW,
      [this.k.stream(app, name, role)],
      [generation, leaseTtlMs, patch && Object.keys(patch).length ? JSON.stringify(patch) : '', Date.now()],
    );
    return res === 1;
  }

  async unregisterStream(
    app: string,
    name: string,
    generation: number,
    reason: string,
    role: PublisherRole = 'primary',
  ): Promise<boolean> {
    const res = (await this.evalScript(UNREGISTER, [this.k.stream(app, name, role)], [generation])) as
      | string
      | null;
    if (!res) return false;
    const rec = JSON.parse(res) as StreamRecord;
    await this.publish({
      type: 'stream-down',
      app,
      name,
      role,
      generation,
      originNodeId: rec.originNodeId,
      reason,
    });
    return true;
  }

  async getStream(
    app: string,
    name: string,
    role: PublisherRole = 'primary',
  ): Promise<StreamRecord | undefined> {
    const v = await this.redis.get(this.k.stream(app, name, role));
    return v ? (JSON.parse(v) as StreamRecord) : undefined;
  }

  private async scanValues<T>(pattern: string): Promise<T[]> {
    const out: T[] = [];
    let cursor = '0';
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (found.length) {
        const values = await this.redis.mget(...found);
        for (const v of values) if (v) out.push(JSON.parse(v) as T);
      }
    } while (cursor !== '0');
    return out;
  }

  listStreams(): Promise<StreamRecord[]> {
    return this.scanValues<StreamRecord>(this.k.streamPattern);
  }

  async heartbeatNode(rec: Omit<NodeRecord, 'updatedAt'>, leaseTtlMs: number): Promise<void> {
    await this.redis.set(
      this.k.node(rec.id),
      JSON.stringify({ ...rec, updatedAt: Date.now() }),
      'PX',
      leaseTtlMs,
    );
  }

  async removeNode(id: string): Promise<void> {
    await this.redis.del(this.k.node(id));
  }

  listNodes(): Promise<NodeRecord[]> {
    return this.scanValues<NodeRecord>(this.k.nodePattern);
  }

  async putChannel(rec: ChannelRecord, opts?: { onlyIfAbsent?: boolean }): Promise<boolean> {
    const prefix = this.k.events.slice(0, -'events'.length);
    const res = await this.evalScript(
      PUT_CHANNEL,
      [this.k.channel(rec.app, rec.name)],
      [
        JSON.stringify(rec),
        opts?.onlyIfAbsent ? '1' : '0',
        prefix,
        `${rec.app}/${rec.name}`,
        rec.keyHash,
        rec.backupKeyHash ?? '',
      ],
    );
    return res === 1;
  }

  async getChannel(app: string, name: string): Promise<ChannelRecord | undefined> {
    const v = await this.redis.get(this.k.channel(app, name));
    return v ? (JSON.parse(v) as ChannelRecord) : undefined;
  }

  async findChannelByKeyHash(
    keyHash: string,
  ): Promise<{ channel: ChannelRecord; role: PublisherRole } | undefined> {
    const ref = await this.redis.get(this.k.keyIndex(keyHash));
    if (!ref) return undefined;
    const bar = ref.lastIndexOf('|');
    const id = ref.slice(0, bar);
    const slash = id.lastIndexOf('/');
    const channel = await this.getChannel(id.slice(0, slash), id.slice(slash + 1));
    return channel ? { channel, role: ref.slice(bar + 1) as PublisherRole } : undefined;
  }

  async deleteChannel(app: string, name: string): Promise<boolean> {
    const prefix = this.k.events.slice(0, -'events'.length);
    return (await this.evalScript(DELETE_CHANNEL, [this.k.channel(app, name)], [prefix])) === 1;
  }

  listChannels(): Promise<ChannelRecord[]> {
    return this.scanValues<ChannelRecord>(this.k.channelPattern);
  }

  async setActiveRole(
    app: string,
    name: string,
    role: PublisherRole,
    reason: string,
    opts?: { fence?: FenceToken; by?: string },
  ): Promise<boolean> {
    const event: RegistryEvent = { type: 'route-changed', app, name, activeRole: role, reason };
    const res = await this.evalScript(
      SET_ROUTE,
      [this.k.route(app, name), this.k.switches(app, name), opts?.fence ? this.k.fence(opts.fence.name) : ''],
      [
        role,
        JSON.stringify({ at: Date.now(), to: role, reason, by: opts?.by ?? 'admin' }),
        opts?.fence?.token ?? 0,
        MAX_SWITCH_HISTORY,
        this.k.events,
        JSON.stringify(event),
      ],
    );
    return res === 1;
  }

  async listSwitches(app: string, name: string): Promise<SwitchRecord[]> {
    const raw = await this.redis.lrange(this.k.switches(app, name), 0, MAX_SWITCH_HISTORY - 1);
    return raw.map((r) => JSON.parse(r) as SwitchRecord);
  }

  async getActiveRole(app: string, name: string): Promise<PublisherRole> {
    return (await this.redis.get(this.k.route(app, name))) === 'backup' ? 'backup' : 'primary';
  }

  async tryAcquireLock(
    name: string,
    holder: string,
    ttlMs: number,
  ): Promise<{ acquired: boolean; token: number; holder?: string }> {
    const [ok, token, h] = (await this.evalScript(
      ACQUIRE,
      [this.k.lock(name), this.k.lockToken(name)],
      [holder, ttlMs],
    )) as [number, number, string];
    return { acquired: ok === 1, token, holder: h };
  }

  async renewLock(name: string, holder: string, token: number, ttlMs: number): Promise<boolean> {
    return (await this.evalScript(RENEW_LOCK, [this.k.lock(name)], [`${holder}|${token}`, ttlMs])) === 1;
  }

  async releaseLock(name: string, holder: string, token: number): Promise<void> {
    await this.evalScript(RELEASE_LOCK, [this.k.lock(name)], [`${holder}|${token}`]);
  }

  async putHlsKey(app: string, name: string, id: string, key: Buffer, ttlMs: number): Promise<void> {
    await this.redis.set(
      this.k.hlsKey(app, name, id),
      key.toString('base64'),
      'PX',
      Math.max(1, Math.ceil(ttlMs)),
    );
  }

  async getHlsKey(app: string, name: string, id: string): Promise<Buffer | undefined> {
    const v = await this.redis.get(this.k.hlsKey(app, name, id));
    return v ? Buffer.from(v, 'base64') : undefined;
  }

  async putForwardStatus(app: string, name: string, status: ForwardStatus[], ttlMs: number): Promise<void> {
    await this.redis.set(
      this.k.forwardStatus(app, name),
      JSON.stringify(status),
      'PX',
      Math.max(1, Math.ceil(ttlMs)),
    );
  }

  async getForwardStatus(app: string, name: string): Promise<ForwardStatus[]> {
    return (await this.getJson<ForwardStatus[]>(this.k.forwardStatus(app, name))) ?? [];
  }

  async putSourceAssignment(
    app: string,
    name: string,
    assignment: SourceAssignment | undefined,
  ): Promise<void> {
    const key = this.k.sourceAssignment(app, name);
    if (assignment) await this.redis.set(key, JSON.stringify(assignment));
    else await this.redis.del(key);
  }

  async getSourceAssignment(app: string, name: string): Promise<SourceAssignment | undefined> {
    return this.getJson<SourceAssignment>(this.k.sourceAssignment(app, name));
  }

  async putSourceStatus(app: string, name: string, status: SourceStatusRecord, ttlMs: number): Promise<void> {
    await this.redis.set(
      this.k.sourceStatus(app, name),
      JSON.stringify(status),
      'PX',
      Math.max(1, Math.ceil(ttlMs)),
    );
  }

  async getSourceStatus(app: string, name: string): Promise<SourceStatusRecord | undefined> {
    return this.getJson<SourceStatusRecord>(this.k.sourceStatus(app, name));
  }

  private async getJson<T>(key: string): Promise<T | undefined> {
    const v = await this.redis.get(key);
    if (!v) return undefined;
    try {
      return JSON.parse(v) as T;
    } catch {
      return undefined;
    }
  }
}
