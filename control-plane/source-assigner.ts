/**
 * Which origin receives each channel source in a cluster (the leader decides; replicas only watch).
 *
 * Every pass (2 s, and at once when a node joins or leaves) the leader reads the channels with a
 * source, the live origins (node records: load, draining, --source-networks) and what the
 * receiving origin last reported. A source without an origin, whose origin is gone (its node
 * record expired), draining, or outside its networks, goes to the least-loaded origin whose
 * networks hold the source's address; one that has been silent for `silentMoveMs` moves to another
 * such origin (at most once per `silentRetryMs`, so a dead head-end does not bounce the channel
 * around). The origin holds the stream under the same lease and generation fencing as an RTMP
 * publisher (origin/cluster.ts), so edges follow a move as they follow a publisher failover.
 */
import { inNetworks } from '../core/cidr.ts';
import { errorCode } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Registry } from '../core/registry/registry.ts';
import type { ChannelSource, NodeRecord, RegistryEvent } from '../core/registry/types.ts';
import type { LeaderElector } from './leader.ts';

export interface SourceAssignerOptions {
  intervalMs?: number;
  /** Silent this long (as its origin reports): move it (default 10 s). */
  silentMoveMs?: number;
  /** A source moved for silence stays put at least this long (default 30 s). */
  silentRetryMs?: number;
}

/** The address a source URL receives from: the SSM sender, else the group or unicast host. */
export function sourceAddress(url: string): string | undefined {
  try {
    const u = new URL(url);
    if (u.protocol !== 'udp:' && u.protocol !== 'rtp:') return undefined; // pulls reach anywhere
    return u.searchParams.get('source') ?? u.hostname.replace(/^\[|\]$/g, '');
  } catch {
    return undefined;
  }
}

/** Origins able to receive `source`: live, not draining, with the right networks. */
export function eligibleOrigins(source: ChannelSource, nodes: NodeRecord[]): NodeRecord[] {
  const address = sourceAddress(source.url);
  return nodes.filter(
    (n) =>
      n.role === 'origin' && !n.draining && (address === undefined || inNetworks(address, n.sourceNetworks)),
  );
}

/** Least loaded first (streams, then ingress), then by id so every replica agrees. */
export function pickOrigin(candidates: NodeRecord[]): NodeRecord | undefined {
  return [...candidates].sort(
    (a, b) =>
      a.load.streams - b.load.streams || a.load.ingressMbps - b.load.ingressMbps || a.id.localeCompare(b.id),
  )[0];
}

export class SourceAssigner {
  private readonly registry: Registry;
  private readonly elector: LeaderElector;
  private readonly log: Logger;
  private readonly options: Required<SourceAssignerOptions>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly unplaceable = new Set<string>();
  private readonly onEvent = (e: RegistryEvent) => {
    if (e.type === 'node-draining') void this.pass();
  };

  constructor(registry: Registry, elector: LeaderElector, options: SourceAssignerOptions, log: Logger) {
    this.registry = registry;
    this.elector = elector;
    this.options = {
      intervalMs: options.intervalMs ?? 2000,
      silentMoveMs: options.silentMoveMs ?? 10_000,
      silentRetryMs: options.silentRetryMs ?? 30_000,
    };
    this.log = log.child({ component: 'source-assigner' });
  }

  start(): void {
    this.registry.on('event', this.onEvent);
    this.timer = setInterval(() => void this.pass(), this.options.intervalMs);
    this.timer.unref();
    void this.pass();
  }

  stop(): void {
    this.registry.off('event', this.onEvent);
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass (leader only); concurrent calls share it. */
  pass(): Promise<void> {
    if (!this.elector.isLeader()) return Promise.resolve();
    this.running ??= this.assignAll()
      .catch((err: unknown) =>
        this.log.warn({ code: errorCode(err), err: (err as Error).message }, 'source assignment pass failed'),
      )
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async assignAll(): Promise<void> {
    const channels = (await this.registry.listChannels()).filter((c) => c.source || c.backupSource);
    if (channels.length === 0) return;
    const nodes = await this.registry.listNodes();
    const now = Date.now();
    // A channel's source as <name>, its backup source as <name>~backup (on another origin if one can).
    const feeds = channels.flatMap((c) => [
      ...(c.source ? [{ app: c.app, name: c.name, source: c.source, sibling: `${c.name}~backup` }] : []),
      ...(c.backupSource
        ? [{ app: c.app, name: `${c.name}~backup`, source: c.backupSource, sibling: c.name }]
        : []),
    ]);
    for (const c of feeds) {
      if (!this.elector.isLeader()) return;
      const key = `${c.app}/${c.name}`;
      const current = await this.registry.getSourceAssignment(c.app, c.name);
      const eligible = eligibleOrigins(c.source, nodes);
      const holder = current && nodes.find((n) => n.id === current.nodeId);
      let reason: string | undefined;
      let avoid: string | undefined;
      if (!current) reason = 'new';
      else if (!holder) reason = 'origin-gone';
      else if (holder.draining) reason = 'draining';
      else if (!eligible.includes(holder)) reason = 'network';
      else if (now - current.at >= this.options.silentRetryMs) {
        const st = await this.registry.getSourceStatus(c.app, c.name);
        if (
          st?.nodeId === current.nodeId &&
          st.state === 'silent' &&
          st.silentSince > 0 &&
          now - st.silentSince >= this.options.silentMoveMs &&
          eligible.length > 1
        ) {
          reason = 'silent';
          avoid = current.nodeId;
        }
      }
      if (!reason) {
        this.unplaceable.delete(key);
        continue;
      }
      const sibling = await this.registry.getSourceAssignment(c.app, c.sibling);
      const candidates = eligible.filter((n) => n.id !== avoid);
      const apart = candidates.filter((n) => n.id !== sibling?.nodeId);
      const next = pickOrigin(apart.length ? apart : candidates);
      if (!next) {
        if (!this.unplaceable.has(key))
          this.log.warn(
            { stream: key, reason, code: 'RC_SOURCE_UNASSIGNED' },
            'no origin can receive this channel source (none live, all draining, or none whose --source-networks hold it)',
          );
        this.unplaceable.add(key);
        continue;
      }
      this.unplaceable.delete(key);
      await this.registry.putSourceAssignment(c.app, c.name, { nodeId: next.id, at: now, reason });
      await this.registry.publish({ type: 'source-assigned', app: c.app, name: c.name, nodeId: next.id });
      // Count it so the next channel of this pass spreads to another origin.
      next.load = { ...next.load, streams: next.load.streams + 1 };
      this.log.info(
        { stream: key, origin: next.id, previous: current?.nodeId, reason },
        'channel source assigned to an origin',
      );
    }
  }
}
