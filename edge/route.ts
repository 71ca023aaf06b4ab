/**
 * Where an edge finds a stream's origin. RegistryResolver reads the registry directly; the control
 * plane provides the same interface over gRPC (Resolve / WatchRoute), with the registry as its
 * fallback — that is the seam.
 */
import type { Registry } from '../core/registry/registry.ts';
import { type Route, resolveRoute } from '../core/registry/route.ts';
import { type RegistryEvent, routeEventStreamId } from '../core/registry/types.ts';

export type { Route } from '../core/registry/route.ts';

export interface RouteResolver {
  resolve(app: string, name: string): Promise<Route | undefined>;
  /** Calls back whenever the route may have changed (the caller re-resolves). Returns an unsubscribe. */
  watch(app: string, name: string, onChange: () => void): () => void;
}

/**
 * How often watched routes are re-checked without an event. Pub/sub events are lost while the
 * registry's subscriber reconnects, so events alone can leave a pull on a dead or stale origin;
 * the control-plane path re-checks on the same period (its registry fallback is this resolver).
 */
export const ROUTE_RECHECK_MS = 2000;

export class RegistryResolver implements RouteResolver {
  private readonly registry: Registry;
  private readonly watchers = new Map<string, Set<() => void>>();
  private readonly recheckMs: number;
  private recheckTimer: NodeJS.Timeout | undefined;

  constructor(registry: Registry, opts: { recheckMs?: number } = {}) {
    this.registry = registry;
    this.recheckMs = opts.recheckMs ?? ROUTE_RECHECK_MS;
    registry.on('event', (e: RegistryEvent) => {
      const key = routeEventStreamId(e);
      if (e.type === 'node-draining') {
        for (const set of this.watchers.values()) for (const fn of set) fn();
        return;
      }
      if (!key) return;
      for (const fn of this.watchers.get(key) ?? []) fn();
    });
  }

  resolve(app: string, name: string): Promise<Route | undefined> {
    return resolveRoute(this.registry, app, name);
  }

  watch(app: string, name: string, onChange: () => void): () => void {
    const key = `${app}/${name}`;
    let set = this.watchers.get(key);
    if (!set) {
      set = new Set();
      this.watchers.set(key, set);
    }
    set.add(onChange);
    this.startRecheck();
    return () => {
      set.delete(onChange);
      if (set.size === 0) this.watchers.delete(key);
      if (this.watchers.size === 0) this.stopRecheck();
    };
  }

  /** One timer for all watched routes; each watcher re-resolves and moves only if the route differs. */
  private startRecheck(): void {
    if (this.recheckTimer) return;
    this.recheckTimer = setInterval(() => {
      for (const set of [...this.watchers.values()]) for (const fn of [...set]) fn();
    }, this.recheckMs);
    this.recheckTimer.unref();
  }

  private stopRecheck(): void {
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    this.recheckTimer = undefined;
  }
}
