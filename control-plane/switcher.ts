/**
 * Backup switching: the leader's job. For every channel with a backup key it decides which
 * publisher viewers should see, and writes that as the channel's route (fenced by the leader's
 * token), which edges follow through WatchRoute or the registry's route-changed event.
 *
 * Rules, per channel (policy from the channel record):
 * - active primary, primary gone or stalled (no media for noMediaTimeoutMs), backup healthy
 *   → switch to backup ("primary-down" / "primary-stalled");
 * - active backup, backup gone or stalled, primary healthy → switch to primary ("backup-down");
 * - active backup after an automatic switch, autoRevert on, primary healthy for revertAfterMs
 *   → switch to primary ("primary-recovered"). A manual switch (by 'admin') is never reverted.
 *
 * It evaluates on registry events for the channel (at once) and on a timer for the rest (stall
 * detection and revert delays). Only channels with a live publisher are looked at.
 */
import type { Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import type { Registry } from '../core/registry/registry.ts';
import {
  type ChannelRecord,
  type PublisherRole,
  type RegistryEvent,
  routeEventStreamId,
  type StreamRecord,
} from '../core/registry/types.ts';
import type { LeaderElector } from './leader.ts';
import { isStalled } from './service.ts';

export interface SwitcherOptions {
  /** How often every live channel is re-evaluated. */
  intervalMs: number;
  /** Channel records are re-read this often (they change rarely). */
  channelCacheMs: number;
}

export class BackupSwitcher {
  private readonly registry: Registry;
  private readonly elector: LeaderElector;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly options: SwitcherOptions;
  private timer: NodeJS.Timeout | undefined;
  private channels = new Map<string, ChannelRecord>();
  private channelsReadAt = 0;
  /** When this replica first saw the primary healthy while the backup was active. */
  private readonly primaryHealthySince = new Map<string, number>();
  private readonly pending = new Set<string>();
  private evaluating = false;
  private readonly onEvent: (e: RegistryEvent) => void;

  constructor(
    registry: Registry,
    elector: LeaderElector,
    options: SwitcherOptions,
    metrics: Metrics,
    log: Logger,
  ) {
    this.registry = registry;
    this.elector = elector;
    this.options = options;
    this.metrics = metrics;
    this.log = log.child({ component: 'backup-switcher' });
    this.onEvent = (e) => {
      // a route change is this switcher's own doing (or an operator's): nothing to decide
      const id = e.type === 'route-changed' ? undefined : routeEventStreamId(e);
      if (id) this.poke(id);
    };
  }

  start(): void {
    this.registry.on('event', this.onEvent);
    this.timer = setInterval(() => void this.evaluateAll(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.registry.off('event', this.onEvent);
    if (this.timer) clearInterval(this.timer);
  }

  private poke(id: string): void {
    if (!this.elector.isLeader()) return;
    this.pending.add(id);
    void this.drainPending();
  }

  private async drainPending(): Promise<void> {
    if (this.evaluating) return; // the running pass picks them up
    this.evaluating = true;
    try {
      while (this.pending.size) {
        const ids = [...this.pending];
        this.pending.clear();
        await this.loadChannels(true);
        for (const id of ids) {
          const ch = this.channels.get(id);
          if (ch) await this.evaluate(ch);
        }
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'switch evaluation failed');
    } finally {
      this.evaluating = false;
    }
  }

  private async loadChannels(force = false): Promise<void> {
    if (!force && Date.now() - this.channelsReadAt < this.options.channelCacheMs) return;
    const list = await this.registry.listChannels();
    this.channels = new Map(
      list.filter((c) => c.backupKeyHash || c.backupSource).map((c) => [`${c.app}/${c.name}`, c]),
    );
    this.channelsReadAt = Date.now();
  }

  /** One pass over channels that have a live publisher. */
  async evaluateAll(): Promise<void> {
    if (!this.elector.isLeader() || this.evaluating) return;
    this.evaluating = true;
    try {
      await this.loadChannels();
      if (this.channels.size === 0) return;
      // One scan gives every live publisher record; evaluate() need not read them again.
      const live = new Map<string, { primary?: StreamRecord; backup?: StreamRecord }>();
      for (const r of await this.registry.listStreams()) {
        const id = `${r.app}/${r.name}`;
        live.set(id, { ...live.get(id), [r.role ?? 'primary']: r });
      }
      for (const [id, ch] of this.channels) {
        const records = live.get(id);
        if (records) await this.evaluate(ch, records);
      }
      for (const id of this.primaryHealthySince.keys())
        if (!live.has(id)) this.primaryHealthySince.delete(id);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'switch evaluation failed');
    } finally {
      this.evaluating = false;
    }
    if (this.pending.size) void this.drainPending();
  }

  /** `records`: the live publishers if the caller has just read them; otherwise read here. */
  private async evaluate(
    ch: ChannelRecord,
    records?: { primary?: StreamRecord | undefined; backup?: StreamRecord | undefined },
  ): Promise<void> {
    const id = `${ch.app}/${ch.name}`;
    const [active, primary, backup] = await Promise.all([
      this.registry.getActiveRole(ch.app, ch.name),
      records ? records.primary : this.registry.getStream(ch.app, ch.name, 'primary'),
      records ? records.backup : this.registry.getStream(ch.app, ch.name, 'backup'),
    ]);
    const timeout = ch.failover.noMediaTimeoutMs;
    const healthy = (r: StreamRecord | undefined) => !!r && !isStalled(r, timeout);
    if (active === 'primary') {
      this.primaryHealthySince.delete(id);
      if (!healthy(primary) && healthy(backup))
        await this.switchTo(ch, 'backup', primary ? 'primary-stalled' : 'primary-down');
      return;
    }
    // active backup
    if (!healthy(primary)) {
      this.primaryHealthySince.delete(id);
      return;
    }
    if (!healthy(backup)) {
      await this.switchTo(ch, 'primary', backup ? 'backup-stalled' : 'backup-down');
      return;
    }
    if (!ch.failover.autoRevert) return;
    const [last] = await this.registry.listSwitches(ch.app, ch.name);
    if (last && last.by === 'admin') return; // an operator chose the backup: leave it
    const now = Date.now();
    // Counted from when this replica first saw the primary healthy (a new leader starts over).
    const since = this.primaryHealthySince.get(id) ?? now;
    this.primaryHealthySince.set(id, since);
    if (now - since >= ch.failover.revertAfterMs) {
      this.primaryHealthySince.delete(id);
      await this.switchTo(ch, 'primary', 'primary-recovered');
    }
  }

  private async switchTo(ch: ChannelRecord, to: PublisherRole, reason: string): Promise<void> {
    const fence = this.elector.fence();
    if (!fence) return;
    const ok = await this.registry.setActiveRole(ch.app, ch.name, to, reason, {
      fence,
      by: this.elector.identity,
    });
    if (!ok) {
      this.log.warn(
        { channel: `${ch.app}/${ch.name}`, to, token: fence.token },
        'switch refused: fenced off',
      );
      return;
    }
    this.metrics.backupSwitches.inc({ to, reason });
    this.log.info({ channel: `${ch.app}/${ch.name}`, to, reason, token: fence.token }, 'switched channel');
  }
}
