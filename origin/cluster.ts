/**
 * The origin's side of the cluster: registers every stream it ingests in the registry under a
 * lease, renews the leases, fences itself off a stream when a newer generation appears elsewhere,
 * and heartbeats its node record. One timer per process, never one per stream.
 */

import { RelaycastError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import type { Registry } from '../core/registry/registry.ts';
import type { NodeRecord, RegistryEvent, StreamRecord } from '../core/registry/types.ts';
import type { StreamStatsSampler } from '../core/stream-info.ts';
import type { StreamHub } from '../media/hub/hub.ts';
import type { HubStream, Publication } from '../media/hub/stream.ts';
import { Origin, streamBusy } from './origin.ts';
import type { PublishTarget } from './publish-auth.ts';

export interface OriginClusterOptions {
  nodeId: string;
  /** Base URL edges pull from, e.g. http://10.0.0.5:8081 */
  internalUrl: string;
  advertiseHost: string;
  rtmpUrl: string;
  adminUrl: string;
  leaseTtlMs: number;
  version: string;
  /** Role in the node record: 'all' for the all-in-one. */
  role?: 'origin' | 'all';
}

interface Owned {
  target: PublishTarget;
  generation: number;
  sessionId: string;
  startedAt: number;
  registered: boolean;
  publication: Publication | undefined;
}

export class OriginCluster {
  private readonly registry: Registry;
  private readonly hub: StreamHub;
  private readonly origin: Origin;
  private readonly stats: StreamStatsSampler;
  private readonly options: OriginClusterOptions;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  /** hub stream key → what we hold in the registry */
  private readonly owned = new Map<string, Owned>();
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private draining = false;
  private ticking = false;
  private closed = false;
  /** Called when an operator drains this node (DrainNode); the role stops accepting. */
  onDrainRequest: (() => void) | undefined;
  /** Called when an operator lets it take new work again (UndrainNode). */
  onUndrainRequest: (() => void) | undefined;
  /** More of this node's record (the all-in-one adds its viewer and gRPC URLs and leadership). */
  nodeExtras: (() => Partial<NodeRecord>) | undefined;

  constructor(
    registry: Registry,
    origin: Origin,
    stats: StreamStatsSampler,
    options: OriginClusterOptions,
    metrics: Metrics,
    log: Logger,
  ) {
    this.registry = registry;
    this.origin = origin;
    this.hub = origin.hub;
    this.stats = stats;
    this.options = options;
    this.metrics = metrics;
    this.log = log.child({ component: 'origin-cluster' });
    origin.hooks.beforePublish = (target, sessionId, publisher) =>
      this.beforePublish(target, sessionId, publisher);
    this.hub.on('publish', (stream, pub) => this.onPublish(stream, pub));
    this.hub.on('unpublish', (stream, pub, reason) => {
      if (reason !== 'takeover') void this.onUnpublish(stream, pub, reason);
    });
    registry.on('event', (e: RegistryEvent) => this.onEvent(e));
    registry.on('connection', (state: 'up' | 'down') => {
      this.metrics.registryUp.set(state === 'up' ? 1 : 0);
      if (state === 'up') void this.tick();
    });
  }

  start(): void {
    this.metrics.registryUp.set(1);
    this.timer = setInterval(() => void this.tick(), Math.max(200, Math.floor(this.options.leaseTtlMs / 3)));
    this.timer.unref();
    void this.tick();
  }

  private pendingGenerations = new Map<
    string,
    { generation: number; sessionId: string; target: PublishTarget }
  >();

  /** Takes the generation before the publish is accepted, so a takeover is fenced from the start. */
  private async beforePublish(
    target: PublishTarget,
    sessionId: string,
    publisher: { ip: string; sameIpOnly: boolean },
  ): Promise<void> {
    const hubName = Origin.hubName(target);
    if (publisher.sameIpOnly) {
      // the live publisher may be on another origin: its record carries its address
      const live = await this.registry.getStream(target.app, hubName).catch(() => undefined);
      if (live?.publisherIp && live.originNodeId !== this.options.nodeId && live.publisherIp !== publisher.ip)
        throw streamBusy(target);
    }
    let generation: number;
    try {
      generation = await this.registry.nextGeneration(target.app, hubName);
    } catch (err) {
      // A publish without a generation cannot be fenced: drawn later, after the registry heals,
      // it would outrank a newer publish that went live elsewhere meanwhile. Refuse it; encoders
      // retry, and the retry draws its generation in publish order.
      this.metrics.registryErrors.inc({ op: 'nextGeneration' });
      throw new RelaycastError(
        'RC_REGISTRY_UNAVAILABLE',
        'the cluster registry (Redis) is unreachable, so this publish cannot be ordered against others; retry in a few seconds',
        { cause: err },
      );
    }
    this.pendingGenerations.set(`${target.app}/${hubName}`, { generation, sessionId, target });
  }

  private onPublish(stream: HubStream, pub: Publication): void {
    if (pub.info.kind === 'source') {
      void this.claimSource(stream, pub, 0);
      return;
    }
    if (pub.info.kind !== 'rtmp') return;
    const pending = this.pendingGenerations.get(stream.key);
    this.pendingGenerations.delete(stream.key);
    if (!pending || pending.sessionId !== pub.info.sessionId) return;
    const owned: Owned = {
      target: pending.target,
      generation: pending.generation,
      sessionId: pending.sessionId,
      startedAt: Date.now(),
      registered: false,
      publication: pub,
    };
    this.owned.set(stream.key, owned);
    void this.register(stream.key, owned);
  }

  /**
   * A channel source (MPEG-TS in) went live here: it is held like a publisher, under a generation
   * drawn now, so when the leader moves the source to another origin the newer generation there
   * wins and edges follow. Without the registry it retries while the source keeps publishing.
   */
  private async claimSource(stream: HubStream, pub: Publication, attempt: number): Promise<void> {
    let generation: number;
    try {
      generation = await this.registry.nextGeneration(stream.app, stream.name);
    } catch (err) {
      this.metrics.registryErrors.inc({ op: 'nextGeneration' });
      if (stream.publisher === pub && !this.closed && attempt < 60) {
        const retry = setTimeout(() => void this.claimSource(stream, pub, attempt + 1), 1000);
        retry.unref();
      }
      this.log.warn(
        { stream: stream.key, err: (err as Error).message },
        'cannot register a channel source yet',
      );
      return;
    }
    if (stream.publisher !== pub || this.closed) return;
    const owned: Owned = {
      // a channel's backup source publishes as <name>~backup
      target: stream.name.endsWith('~backup')
        ? { app: stream.app, name: stream.name.slice(0, -'~backup'.length), role: 'backup' }
        : { app: stream.app, name: stream.name, role: 'primary' },
      generation,
      sessionId: pub.info.sessionId,
      startedAt: Date.now(),
      registered: false,
      publication: pub,
    };
    this.owned.set(stream.key, owned);
    await this.register(stream.key, owned);
  }

  private record(key: string, owned: Owned): Omit<StreamRecord, 'updatedAt'> {
    const stream = this.hub.get(owned.target.app, key.slice(owned.target.app.length + 1));
    const info = stream ? this.stats.describe(stream) : undefined;
    return {
      app: owned.target.app,
      name: owned.target.name,
      originNodeId: this.options.nodeId,
      originUrl: this.options.internalUrl,
      sessionId: owned.sessionId,
      ...(owned.publication?.info.remote && owned.publication.info.kind === 'rtmp'
        ? { publisherIp: owned.publication.info.remote.replace(/:\d+$/, '') }
        : {}),
      generation: owned.generation,
      startedAt: owned.startedAt,
      role: owned.target.role,
      ...(info?.video || info?.audio
        ? {
            codecs: {
              ...(info.video ? { video: info.video } : {}),
              ...(info.audio ? { audio: info.audio } : {}),
            },
          }
        : {}),
      ...(info ? { bitrateKbps: info.ingestKbps } : {}),
      ...(owned.publication?.lastMediaAt ? { lastMediaAt: owned.publication.lastMediaAt } : {}),
    };
  }

  private async register(key: string, owned: Owned): Promise<void> {
    try {
      const res = await this.registry.registerStream(this.record(key, owned), this.options.leaseTtlMs);
      if (this.owned.get(key) !== owned) return;
      if (!res.ok) {
        this.log.warn(
          {
            stream: key,
            ours: owned.generation,
            theirs: res.current.generation,
            currentNode: res.current.originNodeId,
          },
          'a newer publish of this stream exists elsewhere: closing ours',
        );
        this.lose(key, owned);
        return;
      }
      owned.registered = true;
      this.log.info({ stream: key, generation: owned.generation }, 'stream registered');
    } catch (err) {
      this.metrics.registryErrors.inc({ op: 'registerStream' });
      this.log.warn({ stream: key, err: (err as Error).message }, 'stream registration failed; retrying');
    }
  }

  /** We are no longer the owner: close the local publisher (fencing by generation). */
  private lose(key: string, owned: Owned): void {
    this.owned.delete(key);
    const stream = this.hub.get(owned.target.app, key.slice(owned.target.app.length + 1));
    if (stream?.publisher === owned.publication) stream?.kickPublisher('takeover');
  }

  private async onUnpublish(stream: HubStream, pub: Publication, reason: string): Promise<void> {
    const owned = this.owned.get(stream.key);
    if (!owned || owned.publication !== pub) return;
    this.owned.delete(stream.key);
    try {
      await this.registry.unregisterStream(
        owned.target.app,
        owned.target.name,
        owned.generation,
        reason,
        owned.target.role,
      );
    } catch (err) {
      this.metrics.registryErrors.inc({ op: 'unregisterStream' });
      this.log.warn(
        { stream: stream.key, err: (err as Error).message },
        'unregister failed (lease will expire)',
      );
    }
  }

  private onEvent(e: RegistryEvent): void {
    if (e.type === 'stream-moved' || e.type === 'stream-up') {
      const s = e.stream;
      const key = `${s.app}/${s.role === 'backup' ? `${s.name}~backup` : s.name}`;
      const owned = this.owned.get(key);
      if (owned && s.generation > owned.generation && s.sessionId !== owned.sessionId) {
        this.log.info(
          { stream: key, newer: s.generation, currentNode: s.originNodeId },
          'taken over by a newer publish',
        );
        this.metrics.takeovers.inc();
        this.lose(key, owned);
      }
    } else if (e.type === 'drain-request' && e.nodeId === this.options.nodeId) {
      this.log.info('drain requested by the control plane: refusing new publishers');
      this.onDrainRequest?.();
    } else if (e.type === 'undrain-request' && e.nodeId === this.options.nodeId) {
      this.log.info('undrain requested by the control plane: taking new publishers again');
      this.onUndrainRequest?.();
    } else if (e.type === 'kick') {
      for (const [key, owned] of this.owned) {
        if (
          owned.target.app === e.app &&
          owned.target.name === e.name &&
          (e.generation === undefined || e.generation === owned.generation) &&
          (e.role === undefined || e.role === owned.target.role)
        ) {
          this.log.info({ stream: key, reason: e.reason }, 'kicked by admin');
          this.lose(key, owned);
        }
      }
    }
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await Promise.all([...this.owned].map(([key, owned]) => this.renew(key, owned)));
      await this.heartbeat();
    } finally {
      this.ticking = false;
    }
  }

  private async renew(key: string, owned: Owned): Promise<void> {
    if (!owned.registered) return this.register(key, owned);
    const t0 = performance.now();
    try {
      const rec = this.record(key, owned);
      const ok = await this.registry.renewStream(
        rec.app,
        rec.name,
        owned.generation,
        this.options.leaseTtlMs,
        {
          ...(rec.codecs ? { codecs: rec.codecs } : {}),
          ...(rec.bitrateKbps !== undefined ? { bitrateKbps: rec.bitrateKbps } : {}),
          ...(rec.lastMediaAt !== undefined ? { lastMediaAt: rec.lastMediaAt } : {}),
        },
        owned.target.role,
      );
      this.metrics.leaseRenewSeconds.observe((performance.now() - t0) / 1000);
      if (ok || this.owned.get(key) !== owned) return;
      const current = await this.registry.getStream(rec.app, rec.name, owned.target.role);
      if (current && current.generation > owned.generation) {
        this.log.warn(
          { stream: key, theirs: current.generation },
          'lease renewal fenced off: newer generation',
        );
        this.lose(key, owned);
      } else {
        // The record is gone (Redis restarted or the lease lapsed): register again.
        owned.registered = false;
        await this.register(key, owned);
      }
    } catch (err) {
      this.metrics.registryErrors.inc({ op: 'renewStream' });
      this.log.debug({ stream: key, err: (err as Error).message }, 'lease renewal failed');
    }
  }

  private async heartbeat(): Promise<void> {
    let viewers = 0;
    let egress = 0;
    let ingress = 0;
    for (const s of this.hub.list()) {
      viewers += s.viewers.size;
      const info = this.stats.describe(s);
      egress += info.egressKbps;
      ingress += info.ingestKbps;
    }
    try {
      await this.registry.heartbeatNode(
        {
          id: this.options.nodeId,
          role: this.options.role ?? 'origin',
          advertiseHost: this.options.advertiseHost,
          internalUrl: this.options.internalUrl,
          rtmpUrl: this.options.rtmpUrl,
          adminUrl: this.options.adminUrl,
          load: { streams: this.owned.size, viewers, egressMbps: egress / 1000, ingressMbps: ingress / 1000 },
          draining: this.draining,
          startedAt: this.startedAt,
          version: this.options.version,
          ...this.nodeExtras?.(),
        },
        this.options.leaseTtlMs,
      );
    } catch (err) {
      this.metrics.registryErrors.inc({ op: 'heartbeatNode' });
      this.log.debug({ err: (err as Error).message }, 'heartbeat failed');
    }
  }

  /** Reported in the node heartbeat (DrainNode) without giving up streams. */
  markDraining(draining = true): void {
    this.draining = draining;
    void this.heartbeat();
  }

  /** Whether this origin holds the lease of hub stream <app>/<hubName> (`name` or `name~backup`). */
  owns(app: string, hubName: string): boolean {
    return this.owned.has(`${app}/${hubName}`);
  }

  /** Heartbeat now (its record changed, e.g. leadership). */
  beat(): void {
    void this.heartbeat();
  }

  /** Graceful shutdown: stop taking publishers, tell edges, give up our streams. */
  async drain(): Promise<void> {
    this.draining = true;
    this.origin.draining = true;
    try {
      await this.registry.publish({ type: 'node-draining', nodeId: this.options.nodeId });
    } catch {
      /* best effort */
    }
    await Promise.all(
      [...this.owned].map(async ([key, owned]) => {
        this.owned.delete(key);
        try {
          await this.registry.unregisterStream(
            owned.target.app,
            owned.target.name,
            owned.generation,
            'origin-shutdown',
            owned.target.role,
          );
        } catch {
          /* the lease expires anyway */
        }
      }),
    );
    try {
      await this.registry.removeNode(this.options.nodeId);
    } catch {
      /* expires */
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
