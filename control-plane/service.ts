/**
 * What the control plane does, independent of how it is called: channels and keys, streams,
 * switches, nodes. gRPC (grpc-server.ts), REST (rest.ts) and the all-in-one call this; the
 * registry is the only state, so any replica can serve any call.
 */
import { RelaycastError } from '../core/errors.ts';
import { parseForwardUrl, redactUrl } from '../core/forward-url.ts';
import { validateAppName, validateStreamId, validateStreamName } from '../core/names.ts';
import { generateStreamKey, hashStreamKey } from '../core/registry/keys.ts';
import type { Registry } from '../core/registry/registry.ts';
import { pickRoute, type Route, resolveRoute } from '../core/registry/route.ts';
import type {
  ChannelForward,
  ChannelRecord,
  ChannelSource,
  ForwardStatus,
  HlsEncryption,
  NodeRecord,
  PublisherRole,
  StreamRecord,
  SwitchRecord,
} from '../core/registry/types.ts';
import { isListener, parseAnySourceUrl, pullsOwnStream, sourceLoopError } from '../core/source-url.ts';

export type FailoverPolicy = ChannelRecord['failover'];

export const DEFAULT_FAILOVER: FailoverPolicy = {
  autoRevert: true,
  revertAfterMs: 5000,
  noMediaTimeoutMs: 2000,
};

/** What the node receiving a channel's source reports (the all-in-one: its SourceManager). */
export interface SourceStatus {
  state: string;
  bitrateKbps: number;
  ccErrors: number;
  packets: number;
  /** Date.now() of the last datagram, 0 = none yet. */
  lastPacketAt: number;
  /** The origin receiving it (clusters). */
  nodeId?: string;
}

/** A channel's HLS encryption as given by a caller: '' or absent = the node's default. */
export function checkHlsEncryption(v: string | undefined): HlsEncryption | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === 'none' || v === 'aes-128') return v;
  throw new RelaycastError(
    'RC_BAD_REQUEST',
    `hlsEncryption must be "none" or "aes-128", got ${JSON.stringify(v)}`,
  );
}

/** A short id unique within the channel's forwards: f1, f2, … */
function newForwardId(existing: { id: string }[]): string {
  const used = new Set(existing.map((f) => f.id));
  for (let i = 1; ; i++) if (!used.has(`f${i}`)) return `f${i}`;
}

export interface ChannelView {
  app: string;
  name: string;
  hasBackup: boolean;
  createdAt: number;
  failover: FailoverPolicy;
  activeRole: PublisherRole;
  /** Declared in the YAML config (`channels:`): its keys live in that file, not in the registry. */
  fromConfig: boolean;
  source?: ChannelSource & { status?: SourceStatus };
  backupSource?: ChannelSource & { status?: SourceStatus };
  hlsEncryption?: HlsEncryption;
  /** Push destinations (keys redacted) with the forwarding node's last report, if any. */
  forwards: ForwardView[];
}

/** A forward as the API shows it: never the whole URL. */
export interface ForwardView {
  id: string;
  url: string;
  /** 'idle' while the channel is not live (or no node reported it yet). */
  state: ForwardStatus['state'] | 'idle';
  bytesSent: number;
  reconnects: number;
  skips: number;
  lastError?: string;
  nodeId?: string;
  role?: PublisherRole;
}

/** Forwards per channel: enough for "our site + a few platforms", bounded for the node's sake. */
export const MAX_FORWARDS = 16;

/** A channel from the YAML config as the control plane shows it (keys stay in the file). */
export interface ConfigChannel {
  app: string;
  name: string;
  hasBackup: boolean;
}

export interface PublisherView {
  role: PublisherRole;
  record: StreamRecord;
  stalled: boolean;
}

export interface StreamView {
  app: string;
  name: string;
  activeRole: PublisherRole;
  route: Route | undefined;
  publishers: PublisherView[];
  switches: SwitchRecord[];
  hasChannel: boolean;
}

/**
 * A live publisher counts as stalled when, at the origin's last renewal, it had sent no media for
 * the timeout (or none at all since it started that long ago). The origin renews every lease/3,
 * so detection takes the timeout plus up to one renewal period.
 */
export function isStalled(rec: StreamRecord, noMediaTimeoutMs: number): boolean {
  const last = rec.lastMediaAt ?? rec.startedAt;
  return rec.updatedAt - last >= noMediaTimeoutMs;
}

function checkPolicy(p: Partial<FailoverPolicy> | undefined, base: FailoverPolicy): FailoverPolicy {
  const out = { ...base };
  if (!p) return out;
  if (p.autoRevert !== undefined) out.autoRevert = p.autoRevert;
  for (const k of ['revertAfterMs', 'noMediaTimeoutMs'] as const) {
    const v = p[k];
    if (v === undefined || v === 0) continue;
    if (!Number.isFinite(v) || v < 100 || v > 3_600_000)
      throw new RelaycastError(
        'RC_BAD_REQUEST',
        `failover.${k} must be between 100 and 3600000 ms, got ${v}`,
      );
    out[k] = v;
  }
  return out;
}

export class ControlService {
  readonly registry: Registry;
  /** Node id of this replica, recorded as `by` on switches it makes. */
  readonly nodeId: string;

  private readonly configChannels: readonly ConfigChannel[];

  /**
   * The all-in-one's own channel sources; elsewhere the receiving origin's report in the registry
   * (the control plane leader assigns sources to origins: source-assigner.ts).
   */
  private readonly sourceStatus: ((app: string, name: string) => SourceStatus | undefined) | undefined;

  constructor(
    registry: Registry,
    nodeId: string,
    options: {
      configChannels?: readonly ConfigChannel[];
      sourceStatus?: (app: string, name: string) => SourceStatus | undefined;
    } = {},
  ) {
    this.registry = registry;
    this.nodeId = nodeId;
    this.configChannels = options.configChannels ?? [];
    this.sourceStatus = options.sourceStatus;
  }

  /** Registry calls fail as RC_REGISTRY_UNAVAILABLE (gRPC UNAVAILABLE, HTTP 503). */
  private async reg<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RelaycastError) throw err;
      throw new RelaycastError(
        'RC_REGISTRY_UNAVAILABLE',
        `the registry (Redis) did not answer: ${(err as Error).message}; retry once it is reachable`,
        { cause: err },
      );
    }
  }

  private async view(rec: ChannelRecord): Promise<ChannelView> {
    return {
      app: rec.app,
      name: rec.name,
      hasBackup: !!rec.backupKeyHash || !!rec.backupSource,
      createdAt: rec.createdAt,
      failover: rec.failover,
      activeRole: await this.reg(() => this.registry.getActiveRole(rec.app, rec.name)),
      fromConfig: false,
      ...(rec.source ? { source: { ...rec.source, status: await this.sourceStatusOf(rec, rec.name) } } : {}),
      ...(rec.backupSource
        ? {
            backupSource: {
              ...rec.backupSource,
              status: await this.sourceStatusOf(rec, `${rec.name}~backup`),
            },
          }
        : {}),
      ...(rec.hlsEncryption ? { hlsEncryption: rec.hlsEncryption } : {}),
      forwards: await this.forwardViews(rec),
    };
  }

  /** `hubName`: the channel's name for its source, `<name>~backup` for its backup source. */
  private async sourceStatusOf(rec: ChannelRecord, hubName: string): Promise<SourceStatus | undefined> {
    if (this.sourceStatus) return this.sourceStatus(rec.app, hubName);
    const st = await this.registry.getSourceStatus(rec.app, hubName).catch(() => undefined);
    if (st) return st;
    const a = await this.registry.getSourceAssignment(rec.app, hubName).catch(() => undefined);
    return a
      ? { state: 'assigned', bitrateKbps: 0, ccErrors: 0, packets: 0, lastPacketAt: 0, nodeId: a.nodeId }
      : undefined;
  }

  private async forwardViews(rec: ChannelRecord): Promise<ForwardView[]> {
    if (!rec.forwards?.length) return [];
    const status = await this.registry.getForwardStatus(rec.app, rec.name).catch(() => []);
    return rec.forwards.map((f) => {
      const s = status.find((x) => x.id === f.id);
      return {
        id: f.id,
        url: redactUrl(f.url),
        state: s?.state ?? 'idle',
        bytesSent: s?.bytesSent ?? 0,
        reconnects: s?.reconnects ?? 0,
        skips: s?.skips ?? 0,
        ...(s?.lastError ? { lastError: s.lastError } : {}),
        ...(s ? { nodeId: s.nodeId, role: s.role } : {}),
      };
    });
  }

  /**
   * A forward URL for channel `rec`: a valid rtmp(s) URL, not one of this cluster's RTMP listeners
   * publishing the channel itself (its own key or, in open mode, its name): that would loop.
   */
  private async checkForward(
    rec: Pick<ChannelRecord, 'app' | 'name' | 'keyHash' | 'backupKeyHash'>,
    url: string,
  ) {
    const t = parseForwardUrl(url);
    const ours = await this.isOurListener('rtmpUrl', t.host, t.port);
    const keyName = t.key.split('?')[0]!;
    const self =
      hashStreamKey(keyName) === rec.keyHash ||
      (rec.backupKeyHash !== undefined && hashStreamKey(keyName) === rec.backupKeyHash) ||
      (t.app === rec.app && keyName === rec.name);
    if (ours && self)
      throw new RelaycastError(
        'RC_FORWARD_LOOP',
        `${redactUrl(url)} is this cluster publishing ${rec.app}/${rec.name} itself: forwarding there would loop`,
      );
  }

  /** Whether host:port is one of this cluster's listeners of that kind (loopback names all match). */
  private async isOurListener(kind: 'rtmpUrl' | 'httpUrl', host: string, port: number): Promise<boolean> {
    const nodes = await this.reg(() => this.registry.listNodes());
    return nodes.some((n) => n[kind] !== undefined && isListener(n[kind], host, port));
  }

  /** A pulled source (HTTP-FLV, HLS, RTMP) that is this cluster's own <app>/<name> would loop. */
  private async checkSourceLoop(app: string, name: string, url: string): Promise<void> {
    const spec = parseAnySourceUrl(url);
    if (!('url' in spec)) return;
    const nodes = await this.reg(() => this.registry.listNodes());
    const listeners = nodes.flatMap((n) => [n.httpUrl, n.rtmpUrl].filter((l) => l !== undefined));
    if (pullsOwnStream(url, app, name, listeners)) throw sourceLoopError(url, app, name);
  }

  /** Adds a push destination; it starts at once if the channel is live. Returns its view. */
  async addForward(app: string, name: string, url: string): Promise<ForwardView> {
    const rec = await this.mustChannel(app, name);
    const forwards = rec.forwards ?? [];
    if (forwards.length >= MAX_FORWARDS)
      throw new RelaycastError('RC_BAD_REQUEST', `a channel has at most ${MAX_FORWARDS} forwards`);
    await this.checkForward(rec, url);
    if (forwards.some((f) => f.url === url))
      throw new RelaycastError('RC_CONFLICT', `${app}/${name} already forwards to ${redactUrl(url)}`);
    const forward = { id: newForwardId(forwards), url };
    const next: ChannelRecord = { ...rec, forwards: [...forwards, forward] };
    await this.reg(() => this.registry.putChannel(next));
    return (await this.forwardViews(next)).find((f) => f.id === forward.id)!;
  }

  /** Removes a destination by id (or by its exact URL); the forward stops at once. */
  async removeForward(app: string, name: string, idOrUrl: string): Promise<void> {
    const rec = await this.mustChannel(app, name);
    const forwards = rec.forwards ?? [];
    const kept = forwards.filter((f) => f.id !== idOrUrl && f.url !== idOrUrl);
    if (kept.length === forwards.length)
      throw new RelaycastError(
        'RC_NOT_FOUND',
        `${app}/${name} has no forward '${idOrUrl.includes('://') ? redactUrl(idOrUrl) : idOrUrl}'; 'relaycast channel forward list ${name}' shows the ids`,
      );
    const { forwards: _old, ...rest } = rec;
    await this.reg(() => this.registry.putChannel(kept.length ? { ...rest, forwards: kept } : rest));
  }

  private async configView(c: ConfigChannel): Promise<ChannelView> {
    return {
      app: c.app,
      name: c.name,
      hasBackup: c.hasBackup,
      createdAt: 0,
      failover: DEFAULT_FAILOVER,
      activeRole: await this.reg(() => this.registry.getActiveRole(c.app, c.name)),
      fromConfig: true,
      forwards: [],
    };
  }

  private async mustChannel(app: string, name: string): Promise<ChannelRecord> {
    validateStreamId(app, name);
    const rec = await this.reg(() => this.registry.getChannel(app, name));
    if (!rec)
      throw new RelaycastError(
        'RC_NOT_FOUND',
        `no channel ${app}/${name}; 'relaycast channel list' shows the existing ones`,
      );
    return rec;
  }

  async createChannel(
    app: string,
    name: string,
    opts: {
      backup?: boolean;
      failover?: Partial<FailoverPolicy>;
      source?: ChannelSource;
      backupSource?: ChannelSource;
      hlsEncryption?: string;
      forwards?: string[];
    } = {},
  ): Promise<{ channel: ChannelView; key: string; backupKey?: string }> {
    validateStreamName(app, name);
    const hlsEncryption = checkHlsEncryption(opts.hlsEncryption);
    if (opts.source) {
      parseAnySourceUrl(opts.source.url, { interfaceAddress: opts.source.interfaceAddress });
      await this.checkSourceLoop(app, name, opts.source.url);
    }
    if (opts.backupSource) {
      parseAnySourceUrl(opts.backupSource.url, { interfaceAddress: opts.backupSource.interfaceAddress });
      await this.checkSourceLoop(app, name, opts.backupSource.url);
      if (opts.source && opts.backupSource.url === opts.source.url)
        throw new RelaycastError('RC_BAD_REQUEST', 'the backup source must differ from the source');
    }
    const key = generateStreamKey();
    const backupKey = opts.backup ? generateStreamKey() : undefined;
    const forwards: ChannelForward[] = [];
    if ((opts.forwards?.length ?? 0) > MAX_FORWARDS)
      throw new RelaycastError('RC_BAD_REQUEST', `a channel has at most ${MAX_FORWARDS} forwards`);
    for (const url of new Set(opts.forwards ?? [])) {
      await this.checkForward({ app, name, keyHash: hashStreamKey(key) }, url);
      forwards.push({ id: newForwardId(forwards), url });
    }
    const rec: ChannelRecord = {
      app,
      name,
      keyHash: hashStreamKey(key),
      ...(backupKey ? { backupKeyHash: hashStreamKey(backupKey) } : {}),
      createdAt: Date.now(),
      failover: checkPolicy(opts.failover, DEFAULT_FAILOVER),
      ...(opts.source
        ? {
            source: {
              url: opts.source.url,
              ...(opts.source.interfaceAddress ? { interfaceAddress: opts.source.interfaceAddress } : {}),
            },
          }
        : {}),
      ...(opts.backupSource
        ? {
            backupSource: {
              url: opts.backupSource.url,
              ...(opts.backupSource.interfaceAddress
                ? { interfaceAddress: opts.backupSource.interfaceAddress }
                : {}),
            },
          }
        : {}),
      ...(hlsEncryption ? { hlsEncryption } : {}),
      ...(forwards.length ? { forwards } : {}),
    };
    const created = await this.reg(() => this.registry.putChannel(rec, { onlyIfAbsent: true }));
    if (!created)
      throw new RelaycastError(
        'RC_CONFLICT',
        `channel ${app}/${name} already exists; use 'relaycast channel reset-key ${name}' for a new key`,
      );
    return { channel: await this.view(rec), key, ...(backupKey ? { backupKey } : {}) };
  }

  /** Channels in the registry, and those of the YAML config that the registry does not shadow. */
  async listChannels(app?: string): Promise<ChannelView[]> {
    if (app) validateAppName(app);
    const all = await this.reg(() => this.registry.listChannels());
    const stored = new Set(all.map((c) => `${c.app}/${c.name}`));
    const views = await Promise.all([
      ...all.filter((c) => !app || c.app === app).map((c) => this.view(c)),
      ...this.configChannels
        .filter((c) => (!app || c.app === app) && !stored.has(`${c.app}/${c.name}`))
        .map((c) => this.configView(c)),
    ]);
    return views.sort((a, b) => a.app.localeCompare(b.app) || a.name.localeCompare(b.name));
  }

  async getChannel(app: string, name: string): Promise<ChannelView> {
    validateStreamId(app, name);
    const rec = await this.reg(() => this.registry.getChannel(app, name));
    if (rec) return this.view(rec);
    const fromConfig = this.configChannels.find((c) => c.app === app && c.name === name);
    if (fromConfig) return this.configView(fromConfig);
    return this.view(await this.mustChannel(app, name));
  }

  /** Tells origins to disconnect the stream's publishers; returns how many were live. */
  async kick(app: string, name: string, role: PublisherRole | undefined, reason: string): Promise<number> {
    validateStreamId(app, name);
    const roles: PublisherRole[] = role ? [role] : ['primary', 'backup'];
    let live = 0;
    for (const r of roles) {
      const rec = await this.reg(() => this.registry.getStream(app, name, r));
      if (!rec) continue;
      live++;
      await this.reg(() =>
        this.registry.publish({ type: 'kick', app, name, generation: rec.generation, role: r, reason }),
      );
    }
    return live;
  }

  async deleteChannel(app: string, name: string): Promise<{ kicked: number }> {
    await this.mustChannel(app, name);
    await this.reg(() => this.registry.deleteChannel(app, name));
    return { kicked: await this.kick(app, name, undefined, 'channel-deleted') };
  }

  async resetKey(
    app: string,
    name: string,
    role: PublisherRole = 'primary',
  ): Promise<{ channel: ChannelView; key: string; kicked: number }> {
    const rec = await this.mustChannel(app, name);
    if (role === 'backup' && !rec.backupKeyHash)
      throw new RelaycastError(
        'RC_BAD_REQUEST',
        `channel ${app}/${name} has no backup key; add one with 'relaycast channel backup ${name} --enable'`,
      );
    const key = generateStreamKey();
    const next: ChannelRecord =
      role === 'backup'
        ? { ...rec, backupKeyHash: hashStreamKey(key) }
        : { ...rec, keyHash: hashStreamKey(key) };
    await this.reg(() => this.registry.putChannel(next));
    const kicked = await this.kick(app, name, role, 'key-reset');
    return { channel: await this.view(next), key, kicked };
  }

  async setBackup(
    app: string,
    name: string,
    enabled: boolean,
    failover?: Partial<FailoverPolicy>,
  ): Promise<{ channel: ChannelView; backupKey?: string }> {
    const rec = await this.mustChannel(app, name);
    const policy = checkPolicy(failover, rec.failover);
    let backupKey: string | undefined;
    let next: ChannelRecord = { ...rec, failover: policy };
    if (enabled && !rec.backupKeyHash) {
      backupKey = generateStreamKey();
      next = { ...next, backupKeyHash: hashStreamKey(backupKey) };
    } else if (!enabled && rec.backupKeyHash) {
      const { backupKeyHash: _dropped, ...rest } = next;
      next = rest;
    }
    await this.reg(() => this.registry.putChannel(next));
    if (!enabled && rec.backupKeyHash) {
      await this.kick(app, name, 'backup', 'backup-removed');
      if ((await this.reg(() => this.registry.getActiveRole(app, name))) === 'backup')
        await this.reg(() => this.registry.setActiveRole(app, name, 'primary', 'backup-removed'));
    }
    return { channel: await this.view(next), ...(backupKey ? { backupKey } : {}) };
  }

  /** Manual switch (any replica; recorded as by 'admin', which the leader never auto-reverts). */
  async switchChannel(
    app: string,
    name: string,
    to: PublisherRole,
    reason = 'manual',
    force = false,
  ): Promise<{ activeRole: PublisherRole; route: Route | undefined }> {
    validateStreamId(app, name);
    if (to === 'backup' && !(await this.hasBackup(app, name)))
      throw new RelaycastError(
        'RC_FAILED_PRECONDITION',
        `${app}/${name} has no backup; give it one with 'relaycast channel backup ${name} --enable' (or --backup-source)`,
      );
    if (!force && !(await this.reg(() => this.registry.getStream(app, name, to))))
      throw new RelaycastError(
        'RC_FAILED_PRECONDITION',
        `the ${to} publisher of ${app}/${name} is not live; start it first or pass force to switch anyway`,
      );
    await this.reg(() => this.registry.setActiveRole(app, name, to, reason || 'manual', { by: 'admin' }));
    return { activeRole: to, route: await this.resolve(app, name) };
  }

  private async hasBackup(app: string, name: string): Promise<boolean> {
    const rec = await this.reg(() => this.registry.getChannel(app, name));
    if (rec) return !!rec.backupKeyHash || !!rec.backupSource;
    return this.configChannels.some((c) => c.app === app && c.name === name && c.hasBackup);
  }

  resolve(app: string, name: string): Promise<Route | undefined> {
    return this.reg(() => resolveRoute(this.registry, app, name));
  }

  /** `records`: the stream's live publisher records, as the caller already read them. */
  private async streamView(
    app: string,
    name: string,
    records: StreamRecord[],
    channel: ChannelRecord | undefined,
  ): Promise<StreamView> {
    const timeout = (channel?.failover ?? DEFAULT_FAILOVER).noMediaTimeoutMs;
    const [activeRole, switches] = await Promise.all([
      this.reg(() => this.registry.getActiveRole(app, name)),
      this.reg(() => this.registry.listSwitches(app, name)),
    ]);
    const live = {
      primary: records.find((r) => (r.role ?? 'primary') === 'primary'),
      backup: records.find((r) => r.role === 'backup'),
    };
    return {
      app,
      name,
      activeRole,
      route: pickRoute(activeRole, live),
      publishers: records
        .map((r) => ({ role: r.role ?? 'primary', record: r, stalled: isStalled(r, timeout) }))
        .sort((a, b) => a.role.localeCompare(b.role) * -1),
      switches,
      hasChannel: !!channel,
    };
  }

  async listStreams(app?: string): Promise<StreamView[]> {
    if (app) validateAppName(app);
    const [records, channels] = await Promise.all([
      this.reg(() => this.registry.listStreams()),
      this.reg(() => this.registry.listChannels()),
    ]);
    const byStream = new Map<string, StreamRecord[]>();
    for (const r of records) {
      if (app && r.app !== app) continue;
      const id = `${r.app}/${r.name}`;
      const list = byStream.get(id) ?? [];
      list.push(r);
      byStream.set(id, list);
    }
    const channelById = new Map(channels.map((c) => [`${c.app}/${c.name}`, c]));
    const out = await Promise.all(
      [...byStream.entries()].map(([id, recs]) =>
        this.streamView(recs[0]!.app, recs[0]!.name, recs, channelById.get(id)),
      ),
    );
    return out.sort((a, b) => `${a.app}/${a.name}`.localeCompare(`${b.app}/${b.name}`));
  }

  async getStream(app: string, name: string): Promise<StreamView> {
    validateStreamId(app, name);
    const [primary, backup, channel] = await Promise.all([
      this.reg(() => this.registry.getStream(app, name, 'primary')),
      this.reg(() => this.registry.getStream(app, name, 'backup')),
      this.reg(() => this.registry.getChannel(app, name)),
    ]);
    const records = [primary, backup].filter((r): r is StreamRecord => !!r);
    if (records.length === 0 && !channel)
      throw new RelaycastError('RC_NOT_FOUND', `stream ${app}/${name} is not live and is not a channel`);
    return this.streamView(app, name, records, channel);
  }

  async listNodes(role?: string): Promise<NodeRecord[]> {
    const nodes = await this.reg(() => this.registry.listNodes());
    return nodes.filter((n) => !role || n.role === role).sort((a, b) => a.id.localeCompare(b.id));
  }

  private async mustNode(nodeId: string): Promise<void> {
    const nodes = await this.listNodes();
    if (!nodes.some((n) => n.id === nodeId))
      throw new RelaycastError(
        'RC_NOT_FOUND',
        `no live node '${nodeId}'; 'relaycast node list' or ListNodes shows the ids`,
      );
  }

  async drainNode(nodeId: string): Promise<void> {
    await this.mustNode(nodeId);
    await this.reg(() => this.registry.publish({ type: 'drain-request', nodeId }));
  }

  /** The inverse of drainNode: the node takes new publishers and viewers again. */
  async undrainNode(nodeId: string): Promise<void> {
    await this.mustNode(nodeId);
    await this.reg(() => this.registry.publish({ type: 'undrain-request', nodeId }));
  }
}
