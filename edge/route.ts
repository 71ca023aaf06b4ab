/**
 * Where an edge finds a stream's origin. RegistryResolver reads the registry directly; the control
 * plane provides the same interface over gRPC (Resolve / WatchRoute), with the registry as its
 * fallback — that is the seam.
 */
import type { Registry } from '../core/registry/registry.ts';
import type { RegistryEvent, StreamRecord } from '../core/registry/types.ts';

export interface Route {
  app: string;
  name: string;
  originNodeId: string;
  /** Base of the origin's internal HTTP, e.g. http://10.0.0.5:8081 */
  originUrl: string;
  generation: number;
  role: 'primary' | 'backup';
  /** The HTTP-FLV URL the edge reads. */
  pullUrl: string;
}

export interface RouteResolver {
  resolve(app: string, name: string): Promise<Route | undefined>;
  /** Calls back whenever the route may have changed (the caller re-resolves). Returns an unsubscribe. */
  watch(app: string, name: string, onChange: () => void): () => void;
}

export function routeFromRecord(rec: StreamRecord, role: 'primary' | 'backup'): Route {
  const hubName = role === 'backup' ? `${rec.name}~backup` : rec.name;
  return {
    app: rec.app,
    name: rec.name,
    originNodeId: rec.originNodeId,
    originUrl: rec.originUrl,
    generation: rec.generation,
    role,
    pullUrl: `${rec.originUrl.replace(/\/$/, '')}/${encodeURIComponent(rec.app)}/${encodeURIComponent(hubName)}.flv`,
  };
}

export class RegistryResolver implements RouteResolver {
  private readonly registry: Registry;
  private readonly watchers = new Map<string, Set<() => void>>();

  constructor(registry: Registry) {
    this.registry = registry;
    registry.on('event', (e: RegistryEvent) => {
      let key: string | undefined;
      if (e.type === 'stream-up' || e.type === 'stream-moved') key = `${e.stream.app}/${e.stream.name}`;
      else if (e.type === 'stream-down' || e.type === 'route-changed') key = `${e.app}/${e.name}`;
      else if (e.type === 'node-draining') {
        for (const set of this.watchers.values()) for (const fn of set) fn();
        return;
      }
      if (!key) return;
      for (const fn of this.watchers.get(key) ?? []) fn();
    });
  }

  async resolve(app: string, name: string): Promise<Route | undefined> {
    const active = await this.registry.getActiveRole(app, name);
    const rec = await this.registry.getStream(app, name, active);
    if (rec) return routeFromRecord(rec, active);
    // The active publisher is gone: fall back to the other one if it is live.
    const other = active === 'primary' ? 'backup' : 'primary';
    const alt = await this.registry.getStream(app, name, other);
    return alt ? routeFromRecord(alt, other) : undefined;
  }

  watch(app: string, name: string, onChange: () => void): () => void {
    const key = `${app}/${name}`;
    let set = this.watchers.get(key);
    if (!set) {
      set = new Set();
      this.watchers.set(key, set);
    }
    set.add(onChange);
    return () => {
      set.delete(onChange);
      if (set.size === 0) this.watchers.delete(key);
    };
  }
}
