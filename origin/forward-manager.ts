/**
 * Runs channels' forwards (restreaming) on the node that holds the channel's active publisher.
 *
 * Every few seconds, and at once on a route change or a new live stream, it reads the channels
 * that have forwards and, for each, the active role (primary or backup). The forwards of a channel
 * run here while the active role's hub stream is live on this node and this node holds its lease
 * (`owns`; the all-in-one owns everything): so exactly one node of a cluster pushes each
 * destination, and the forward moves with the stream on failover. A backup switch on this node
 * moves the running forwarders to the other stream without reconnecting the destination when the
 * codecs allow (Forwarder.switchTo). States go to the registry for `channel get`, and to metrics.
 */
import { errorCode } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import type { Registry } from '../core/registry/registry.ts';
import type { ChannelRecord, ForwardStatus, PublisherRole, RegistryEvent } from '../core/registry/types.ts';
import type { StreamHub } from '../media/hub/hub.ts';
import { Lifecycle } from '../media/lifecycle.ts';
import { Forwarder, type ForwarderOptions } from './forward.ts';

export interface ForwardManagerOptions {
  nodeId: string;
  /** Whether this node holds the lease of hub stream <app>/<hubName> (the publisher's). */
  owns: (app: string, hubName: string) => boolean;
  /** How often channels are re-read and states reported (default 2 s). */
  intervalMs?: number;
  /**
   * How long a forward stays connected while its channel has no live publisher here (the encoder
   * reconnecting, or the switch to the backup not made yet), default 5 s: within it the
   * destination keeps its connection; after it the forward stops (another origin may take over).
   */
  idleGraceMs?: number;
  /** Passed to every Forwarder (tests shorten retries; RTMPS certificate checks). */
  forwarder?: Partial<Omit<ForwarderOptions, 'url' | 'stream' | 'log'>>;
}

interface Running {
  forwarder: Forwarder;
  url: string;
  role: PublisherRole;
  /** Counted into metrics so far. */
  reportedBytes: number;
  reportedReconnects: number;
  reportedSkips: number;
  /** Date.now() since when the channel has had no live publisher on this node. */
  idleSince: number | undefined;
}

export class ForwardManager extends Lifecycle<string> {
  private readonly hub: StreamHub;
  private readonly registry: Registry;
  private readonly options: ForwardManagerOptions;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  /** `<app>/<name>#<forward id>` → the forwarder running it. */
  private readonly running = new Map<string, Running>();
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private again = false;
  private readonly onEvent = (e: RegistryEvent) => {
    if (e.type === 'route-changed' || e.type === 'stream-up' || e.type === 'stream-moved') this.kick();
  };
  private readonly onStreamLive = () => this.kick();

  constructor(
    hub: StreamHub,
    registry: Registry,
    options: ForwardManagerOptions,
    metrics: Metrics,
    log: Logger,
  ) {
    super();
    this.hub = hub;
    this.registry = registry;
    this.options = options;
    this.metrics = metrics;
    this.log = log.child({ component: 'forwards' });
  }

  start(): void {
    this.registry.on('event', this.onEvent);
    this.hub.on('stream-create', this.onStreamLive);
    this.hub.on('publish', this.onStreamLive);
    this.timer = setInterval(() => this.kick(), this.options.intervalMs ?? 2000);
    this.timer.unref();
    this.kick();
  }

  /** Forwards running here, for the admin API. */
  list(): (ForwardStatus & { stream: string })[] {
    return [...this.running].map(([key, r]) => ({ ...this.status(key, r), stream: r.forwarder.stream.key }));
  }

  /** Syncs now (coalesced: one sync at a time, one more if asked meanwhile). */
  kick(): void {
    if (this.closed) return;
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = this.sync()
      .catch((err: unknown) =>
        this.log.warn({ code: errorCode(err), err: (err as Error).message }, 'forward sync failed; retrying'),
      )
      .finally(() => {
        this.syncing = undefined;
        if (this.again && !this.closed) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Resolves when the sync in progress (if any) is done: for tests. */
  async settled(): Promise<void> {
    while (this.syncing) await this.syncing;
  }

  private async sync(): Promise<void> {
    const channels = (await this.registry.listChannels()).filter((c) => c.forwards?.length);
    const wanted = new Set<string>();
    for (const c of channels) {
      const role = await this.registry.getActiveRole(c.app, c.name);
      if (this.closed) return;
      const hubName = role === 'backup' ? `${c.name}~backup` : c.name;
      const live = this.hub.getLive(c.app, hubName);
      const stream = live && this.options.owns(c.app, hubName) ? live : undefined;
      const grace = this.options.idleGraceMs ?? 5000;
      let here = false;
      for (const f of c.forwards!) {
        const key = `${c.app}/${c.name}#${f.id}`;
        const r = this.running.get(key);
        const same = r && r.url === f.url && !r.forwarder.closed ? r : undefined;
        if (!stream) {
          // No live publisher here: keep a running forward connected for a little while.
          if (!same) continue;
          same.idleSince ??= Date.now();
          if (Date.now() - same.idleSince >= grace) continue;
          wanted.add(key);
          here = true;
          continue;
        }
        wanted.add(key);
        here = true;
        if (same) {
          same.idleSince = undefined;
          if (same.forwarder.stream !== stream) {
            same.forwarder.switchTo(stream);
            same.role = role;
          }
          continue;
        }
        if (r) this.stop(key, r);
        this.startForward(key, c, f.id, f.url, stream, role);
      }
      if (here) await this.report(c);
    }
    for (const [key, r] of this.running) if (!wanted.has(key)) this.stop(key, r);
    this.updateGauge();
  }

  private startForward(
    key: string,
    c: ChannelRecord,
    id: string,
    url: string,
    stream: Parameters<Forwarder['switchTo']>[0],
    role: PublisherRole,
  ): void {
    let forwarder: Forwarder;
    try {
      forwarder = new Forwarder({ ...this.options.forwarder, url, stream, log: this.log });
    } catch (err) {
      this.log.error(
        { stream: `${c.app}/${c.name}`, forward: id, code: errorCode(err) },
        'forward cannot start',
      );
      return;
    }
    const r: Running = {
      forwarder,
      url,
      role,
      reportedBytes: 0,
      reportedReconnects: 0,
      reportedSkips: 0,
      idleSince: undefined,
    };
    this.running.set(key, r);
    const labels = { app: c.app, stream: c.name, forward: id };
    forwarder.on('state', (s) => {
      if (s.reconnects > r.reportedReconnects) {
        this.metrics.forwardReconnects.inc(
          { ...labels, code: s.lastErrorCode ?? 'unknown' },
          s.reconnects - r.reportedReconnects,
        );
        r.reportedReconnects = s.reconnects;
      }
      if (s.skips > r.reportedSkips) {
        this.metrics.forwardSkips.inc(labels, s.skips - r.reportedSkips);
        r.reportedSkips = s.skips;
      }
      this.countBytes(labels, r);
      this.updateGauge();
    });
    forwarder.once('close', () => {
      this.countBytes(labels, r);
      if (this.running.get(key) === r) this.running.delete(key);
      this.updateGauge();
      // the stream ended: tell the API soon rather than at the next interval
      if (!this.closed) this.kick();
    });
  }

  private countBytes(labels: { app: string; stream: string; forward: string }, r: Running): void {
    const sent = r.forwarder.bytesSent;
    if (sent > r.reportedBytes) {
      this.metrics.forwardBytes.inc(labels, sent - r.reportedBytes);
      r.reportedBytes = sent;
    }
  }

  private stop(key: string, r: Running): void {
    this.running.delete(key);
    r.forwarder.close('stopped');
  }

  private status(key: string, r: Running): ForwardStatus {
    const s = r.forwarder.info;
    return {
      id: key.slice(key.lastIndexOf('#') + 1),
      url: s.url,
      state: s.state,
      since: s.since,
      bytesSent: s.bytesSent,
      reconnects: s.reconnects,
      skips: s.skips,
      ...(s.lastError ? { lastError: s.lastError } : {}),
      nodeId: this.options.nodeId,
      role: r.role,
    };
  }

  private async report(c: ChannelRecord): Promise<void> {
    const prefix = `${c.app}/${c.name}#`;
    const status = [...this.running]
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, r]) => this.status(key, r));
    const ttl = 3 * (this.options.intervalMs ?? 2000);
    await this.registry.putForwardStatus(c.app, c.name, status, ttl).catch(() => undefined);
  }

  private updateGauge(): void {
    const counts: Record<string, number> = { connecting: 0, live: 0, retrying: 0 };
    for (const r of this.running.values()) {
      const st = r.forwarder.info.state;
      if (st in counts) counts[st]!++;
    }
    for (const [state, n] of Object.entries(counts)) this.metrics.forwards.set({ state }, n);
  }

  protected override onClose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.registry.off('event', this.onEvent);
    this.hub.off('stream-create', this.onStreamLive);
    this.hub.off('publish', this.onStreamLive);
    for (const [key, r] of [...this.running]) {
      this.running.delete(key);
      r.forwarder.close('shutdown');
    }
    this.updateGauge();
  }
}
