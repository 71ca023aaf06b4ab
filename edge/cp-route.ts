/**
 * Routes from the control plane: Resolve for lookups and a WatchRoute stream per watched stream,
 * so an edge hears about a backup switch or origin move the moment the control plane decides it.
 * The registry stays underneath: its events are watched too (cheap, and they arrive even while the
 * control plane restarts), and when the control plane cannot be reached Resolve falls back to
 * reading the registry directly, so running streams keep playing and new viewers still start.
 */
import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import type { Route } from '../core/registry/route.ts';
import { type ControlPlaneApi, roleFromProto } from '../proto/client.ts';
import type { Route__Output } from '../proto/gen/relaycast/v1/Route.ts';
import type { RouteResolver } from './route.ts';

const RETRY_MS = [250, 500, 1000, 2000, 4000];
const SKIP_AFTER_FAILURE_MS = 3000;

function fromProto(r: Route__Output): Route {
  return {
    app: r.app,
    name: r.name,
    originNodeId: r.originNodeId,
    originUrl: r.originUrl,
    pullUrl: r.pullUrl,
    generation: r.generation,
    role: roleFromProto(r.role) ?? 'primary',
  };
}

export class ControlPlaneResolver implements RouteResolver {
  private readonly api: ControlPlaneApi;
  private readonly fallback: RouteResolver;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly resolveTimeoutMs: number;
  private reachable = true;
  /** After a failure, go straight to the registry until then (a black-holed control plane would
   * otherwise cost every new viewer the whole Resolve timeout). */
  private skipUntil = 0;

  constructor(
    api: ControlPlaneApi,
    fallback: RouteResolver,
    options: { resolveTimeoutMs: number },
    metrics: Metrics,
    log: Logger,
  ) {
    this.api = api;
    this.fallback = fallback;
    this.resolveTimeoutMs = options.resolveTimeoutMs;
    this.metrics = metrics;
    this.log = log.child({ component: 'cp-route', controlPlane: api.target });
  }

  private setReachable(up: boolean, why?: string): void {
    if (up === this.reachable) return;
    this.reachable = up;
    this.metrics.controlPlaneUp.set(up ? 1 : 0);
    if (up) this.log.info('control plane reachable again: routing through it');
    else this.log.warn({ why }, 'control plane unreachable: resolving from the registry');
  }

  async resolve(app: string, name: string): Promise<Route | undefined> {
    if (Date.now() < this.skipUntil) {
      this.metrics.routeResolutions.inc({ source: 'registry' });
      return this.fallback.resolve(app, name);
    }
    try {
      const r = await this.api.call('Resolve', { app, name }, this.resolveTimeoutMs);
      this.setReachable(true);
      this.metrics.routeResolutions.inc({ source: 'control-plane' });
      return fromProto(r);
    } catch (err) {
      const e = err as ServiceError;
      if (e.code === grpcStatus.NOT_FOUND) {
        this.setReachable(true);
        this.metrics.routeResolutions.inc({ source: 'control-plane' });
        return undefined;
      }
      this.setReachable(false, e.details ?? e.message);
      this.skipUntil = Date.now() + SKIP_AFTER_FAILURE_MS;
      this.metrics.routeResolutions.inc({ source: 'registry' });
      return this.fallback.resolve(app, name);
    }
  }

  watch(app: string, name: string, onChange: () => void): () => void {
    const unwatchRegistry = this.fallback.watch(app, name, onChange);
    let stopped = false;
    let attempt = 0;
    let retry: NodeJS.Timeout | undefined;
    let call: ReturnType<ControlPlaneApi['watchRoute']> | undefined;
    const open = () => {
      if (stopped) return;
      const c = this.api.watchRoute(app, name);
      call = c;
      let initial = true;
      c.on('data', (u: { reason: string }) => {
        attempt = 0;
        this.skipUntil = 0;
        this.setReachable(true);
        // The first message is the state at subscription time; the pull already acted on it.
        if (initial) {
          initial = false;
          return;
        }
        this.log.debug({ stream: `${app}/${name}`, reason: u.reason }, 'route update from control plane');
        onChange();
      });
      const again = (err?: ServiceError) => {
        if (stopped || call !== c) return;
        call = undefined;
        if (err && err.code !== grpcStatus.CANCELLED) this.setReachable(false, err.details);
        const delay = RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]!;
        retry = setTimeout(() => {
          // Whatever changed while we were away: let the pull re-resolve once.
          onChange();
          open();
        }, delay);
        retry.unref();
      };
      c.on('error', (err: ServiceError) => again(err));
      c.on('end', () => again());
    };
    open();
    return () => {
      stopped = true;
      unwatchRegistry();
      if (retry) clearTimeout(retry);
      call?.cancel();
    };
  }
}
