/**
 * A stream's route: which origin holds its active publisher and the URL edges pull. Computed from
 * the registry in one place, used by edges (RegistryResolver) and the control plane (Resolve,
 * WatchRoute) alike, so both always agree.
 */
import type { Registry } from './registry.ts';
import type { PublisherRole, StreamRecord } from './types.ts';

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

/**
 * The channel's active publisher if it is live; otherwise the other one if that is live (a backup
 * keeps a stream playing even before the control plane has switched, and with no control plane).
 * For callers that already hold the live records.
 */
export function pickRoute(
  active: PublisherRole,
  live: { primary?: StreamRecord | undefined; backup?: StreamRecord | undefined },
): Route | undefined {
  const other: PublisherRole = active === 'primary' ? 'backup' : 'primary';
  const rec = live[active];
  if (rec) return routeFromRecord(rec, active);
  const alt = live[other];
  return alt ? routeFromRecord(alt, other) : undefined;
}

/** pickRoute reading the registry, the second record only when the active one is not live. */
export async function resolveRoute(
  registry: Registry,
  app: string,
  name: string,
): Promise<Route | undefined> {
  const active: PublisherRole = await registry.getActiveRole(app, name);
  const rec = await registry.getStream(app, name, active);
  if (rec) return pickRoute(active, { [active]: rec });
  const other: PublisherRole = active === 'primary' ? 'backup' : 'primary';
  return pickRoute(active, { [other]: await registry.getStream(app, name, other) });
}
