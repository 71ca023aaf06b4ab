/**
 * Leader election for control plane replicas. Every replica serves reads; only the leader makes
 * switching decisions. Two backends behind one interface:
 *
 * - LockLeaderElector: a lock in the registry (Redis `SET … PX` + an INCR fencing counter, or the
 *   in-memory registry for the all-in-one). The lock token is the fencing token.
 * - KubeLeaseElector (kube-lease.ts): a coordination.k8s.io/v1 Lease; `leaseTransitions` is the
 *   fencing token.
 *
 * Fencing: the leader passes `fence` with every write it makes as leader (Registry.setActiveRole);
 * the registry refuses a token lower than the highest it has seen, so a deposed leader that has
 * not noticed yet cannot switch a channel.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../core/log.ts';
import type { Registry } from '../core/registry/registry.ts';

export interface Fence {
  /** The lock/lease name the token belongs to. */
  name: string;
  token: number;
}

export interface LeaderElectorOptions {
  /** Lease or lock name, e.g. relaycast-control-plane. */
  leaseName: string;
  /** Unique per replica (the node id). */
  identity: string;
  /** A leader that stops renewing loses the lease after this long. */
  leaseDurationMs: number;
  /** How often the leader renews and followers retry (default leaseDurationMs / 3). */
  retryPeriodMs?: number;
}

/**
 * Events: 'change' (isLeader: boolean). A leader that cannot renew before its lease ends steps
 * down on its own (it does not wait to hear that someone else took over).
 */
export interface LeaderElector extends EventEmitter {
  readonly kind: 'redis' | 'memory' | 'kubernetes';
  readonly identity: string;
  isLeader(): boolean;
  /** The fencing token while leader, else undefined. */
  fence(): Fence | undefined;
  /** Who holds the lease as far as this replica last saw (may be stale by one retry period). */
  currentHolder(): string | undefined;
  start(): void;
  /** Stops campaigning and releases the lease if held (a clean handover, no TTL wait). */
  stop(): Promise<void>;
}

/** Shared loop: try/renew every retry period, step down when the lease ran out unrenewed. */
export abstract class PollingElector extends EventEmitter implements LeaderElector {
  abstract readonly kind: LeaderElector['kind'];
  readonly identity: string;
  protected readonly options: Required<LeaderElectorOptions>;
  protected readonly log: Logger;
  protected token: number | undefined;
  protected holder: string | undefined;
  private leader = false;
  /** Wall-clock time until which our last successful acquire/renew holds. */
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private busy = false;
  /** The attempt in flight, if any; stop() waits for it before releasing. */
  private inflight: Promise<void> | undefined;

  constructor(options: LeaderElectorOptions, log: Logger) {
    super();
    this.identity = options.identity;
    this.options = {
      ...options,
      retryPeriodMs: options.retryPeriodMs ?? Math.max(100, Math.floor(options.leaseDurationMs / 3)),
    };
    this.log = log.child({ component: 'leader-election', lease: options.leaseName });
  }

  /** One attempt: acquire if free/expired, renew if ours. Returns the token when we hold it. */
  protected abstract attempt(): Promise<{ held: boolean; token?: number; holder?: string }>;
  /** Give the lease up (only if still ours). */
  protected abstract release(token: number): Promise<void>;

  isLeader(): boolean {
    if (this.leader && Date.now() > this.validUntil) this.setLeader(false, 'lease ran out unrenewed');
    return this.leader;
  }

  fence(): Fence | undefined {
    return this.isLeader() && this.token !== undefined
      ? { name: `${this.kind}:${this.options.leaseName}`, token: this.token } // tokens of different backends do not compare
      : undefined;
  }

  currentHolder(): string | undefined {
    return this.holder;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = async () => {
      if (!this.running) return;
      this.inflight = this.tick();
      await this.inflight;
      if (this.running) {
        this.timer = setTimeout(loop, this.options.retryPeriodMs);
        this.timer.unref();
      }
    };
    void loop();
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    const started = Date.now();
    try {
      const res = await this.attempt();
      this.holder = res.holder;
      if (res.held && res.token !== undefined) {
        this.token = res.token;
        // Measured from before the request: the lease cannot have been renewed earlier than that.
        this.validUntil = started + this.options.leaseDurationMs;
        // Not once stop() was called while this attempt was in flight: stop() releases it instead.
        if (!this.leader && this.running) this.setLeader(true, 'acquired');
      } else if (this.leader) this.setLeader(false, `lease held by ${res.holder ?? 'another replica'}`);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'leader election request failed');
      this.isLeader(); // steps down once the lease has run out
    } finally {
      this.busy = false;
    }
  }

  private setLeader(leader: boolean, why: string): void {
    if (this.leader === leader) return;
    this.leader = leader;
    if (!leader) this.validUntil = 0;
    this.log.info(
      { identity: this.identity, leader, token: this.token, why },
      leader ? 'became leader' : 'stepped down',
    );
    this.emit('change', leader);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    const wasLeader = this.leader;
    this.setLeader(false, 'stopping');
    // An attempt in flight may still renew or acquire the lease: wait for it, then release what it got.
    await this.inflight;
    const token = this.token;
    if ((wasLeader || this.holder === this.identity) && token !== undefined) {
      try {
        await this.release(token);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'could not release the lease; it expires on its own');
      }
    }
  }
}

/** The registry lock (Redis, or memory in the all-in-one). */
export class LockLeaderElector extends PollingElector {
  readonly kind: 'redis' | 'memory';
  private readonly registry: Registry;

  constructor(registry: Registry, options: LeaderElectorOptions, log: Logger) {
    super(options, log);
    this.registry = registry;
    this.kind = registry.kind;
  }

  protected async attempt() {
    const { leaseName, leaseDurationMs } = this.options;
    if (this.token !== undefined && this.holder === this.identity) {
      if (await this.registry.renewLock(leaseName, this.identity, this.token, leaseDurationMs))
        return { held: true, token: this.token, holder: this.identity };
    }
    const res = await this.registry.tryAcquireLock(leaseName, this.identity, leaseDurationMs);
    return { held: res.acquired, token: res.token, ...(res.holder ? { holder: res.holder } : {}) };
  }

  protected async release(token: number): Promise<void> {
    await this.registry.releaseLock(this.options.leaseName, this.identity, token);
  }
}
