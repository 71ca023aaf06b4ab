/**
 * Pull-through from origins. The first viewer of a stream on this edge starts ONE pull (concurrent
 * first viewers share its promise); the pull feeds the local hub, so later viewers start from the
 * edge's own GOP cache. When the origin goes away or the route changes, the pull re-resolves and
 * resumes from the new origin while viewers stay connected: the hub continues the timeline and
 * sends the new configuration records, so FLV/RTMP viewers need no reconnect.
 */

import { type Dispatcher, request } from 'undici';
import type { Config } from '../core/config.ts';
import { RelaycastError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import type { StreamSource } from '../core/sources.ts';
import { FlvDemuxer } from '../media/flv/demuxer.ts';
import type { StreamHub } from '../media/hub/hub.ts';
import type { HubStream, Publication } from '../media/hub/stream.ts';
import { InvalidStateError, Lifecycle, LifecycleState } from '../media/lifecycle.ts';
import type { Route, RouteResolver } from './route.ts';

export interface EdgePullOptions {
  clusterToken: string | undefined;
  /** Stop the pull this long after the last viewer left. */
  pullIdleTimeoutMs: number;
  /** Wait this long for a stream that is about to start before answering 404 (0 = answer at once). */
  waitForStreamMs: number;
  /** How long viewers are kept while no origin has the stream. */
  failoverDeadlineMs: number;
  /** Silence on a pull longer than this means the origin is gone. */
  bodyTimeoutMs: number;
  /** Where pull requests go (default: undici's global agent). Tests pass an in-memory one. */
  dispatcher?: Dispatcher;
}

/** An edge's pull options from its config (the all-in-one's program feed uses the same). */
export function edgePullOptions(
  config: Pick<Config, 'pullIdleTimeoutMs' | 'waitForStreamMs' | 'republishWaitMs'>,
  clusterToken: string | undefined,
): EdgePullOptions {
  return {
    clusterToken,
    pullIdleTimeoutMs: config.pullIdleTimeoutMs,
    waitForStreamMs: config.waitForStreamMs,
    failoverDeadlineMs: config.republishWaitMs,
    bodyTimeoutMs: 8000,
  };
}

const BACKOFF_MS = [50, 100, 200, 400, 800, 1000];

/** Why a pull ended (logs, and the 'close' event). */
export type PullCloseReason = 'idle' | 'stream-closed' | 'connect-failed' | 'failover-deadline' | 'shutdown';

/**
 * One stream's pull from its origin (media/lifecycle.ts). It owns the hub stream it feeds: when
 * the pull closes, the stream closes (and with it its viewers); when the stream closes, so does
 * the pull.
 */
export class OriginPull extends Lifecycle<PullCloseReason> {
  readonly stream: HubStream;
  private readonly owner: EdgePuller;
  private route: Route | undefined;
  private publication: Publication | undefined;
  private abort: AbortController | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private unwatch: () => void;
  private wake: (() => void) | undefined;
  private readonly log: Logger;

  constructor(owner: EdgePuller, stream: HubStream, log: Logger) {
    super();
    this.owner = owner;
    this.stream = stream;
    this.log = log.child({ stream: stream.key });
    this.unwatch = owner.resolver.watch(stream.app, stream.name, () => void this.onRouteEvent());
    stream.on('viewer-leave', () => this.checkIdle());
    stream.on('viewer-join', () => {
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    });
    stream.on('close', () => this.close('stream-closed'));
  }

  private checkIdle(): void {
    if (this.closed || this.stream.viewers.size > 0 || this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.stream.viewers.size === 0) this.close('idle');
    }, this.owner.options.pullIdleTimeoutMs);
    this.idleTimer.unref();
  }

  /** Connects to the origin; resolves once the response is 200 (media flows in the background). */
  async connect(route: Route): Promise<void> {
    const t0 = performance.now();
    const abort = new AbortController();
    this.abort = abort;
    this.route = route;
    const headers: Record<string, string> = {};
    if (this.owner.options.clusterToken) headers.authorization = `Bearer ${this.owner.options.clusterToken}`;
    const res = await request(route.pullUrl, {
      headers,
      signal: abort.signal,
      headersTimeout: 5000,
      bodyTimeout: this.owner.options.bodyTimeoutMs,
      ...(this.owner.options.dispatcher ? { dispatcher: this.owner.options.dispatcher } : {}),
    });
    if (res.statusCode !== 200) {
      res.body.on('error', () => {}).destroy(); // undici errors a body destroyed unread
      throw new RelaycastError(
        res.statusCode === 404 ? 'RC_PLAY_NOT_FOUND' : 'RC_PULL_FAILED',
        `origin ${route.originNodeId} answered ${res.statusCode} for ${route.app}/${route.name}`,
      );
    }
    if (this.closed) {
      res.body.on('error', () => {}).destroy(); // undici errors a body destroyed unread
      throw new InvalidStateError(`pull of ${this.stream.key}`, this.closeReason);
    }
    this.owner.metrics.pullsStarted.inc();
    const demux = new FlvDemuxer();
    // Each connection is a new publication on the same hub stream: the hub continues the timeline.
    this.publication?.close('unpublish');
    const pub = this.stream.attach({
      sessionId: `pull:${route.originNodeId}:${route.generation}`,
      kind: 'pull',
      remote: route.originUrl,
    });
    this.publication = pub;
    this.log.info(
      { origin: route.originNodeId, generation: route.generation, url: route.pullUrl },
      'pulling from origin',
    );
    void (async () => {
      let first = true;
      let reason = 'origin-closed';
      try {
        for await (const chunk of res.body) {
          if (first) {
            first = false;
            this.owner.metrics.pullConnectSeconds.observe((performance.now() - t0) / 1000);
          }
          for (const tag of demux.push(chunk as Buffer)) pub.pushTag(tag.type, tag.timestamp, tag.data);
        }
      } catch (err) {
        reason = abort.signal.aborted
          ? 'route-changed'
          : (err as { code?: string }).code === 'UND_ERR_BODY_TIMEOUT'
            ? 'timeout'
            : 'error';
      }
      if (this.closed || this.abort !== abort) return;
      this.owner.metrics.pullsFailed.inc({ reason });
      void this.failover(reason);
    })();
  }

  private async onRouteEvent(): Promise<void> {
    if (this.closed) return;
    if (this.wake) {
      this.wake();
      return;
    }
    let route: Route | undefined;
    try {
      route = await this.owner.resolver.resolve(this.stream.app, this.stream.name);
    } catch {
      return; // the lease/backoff path catches up
    }
    if (!route || !this.route) return;
    if (route.pullUrl !== this.route.pullUrl) {
      this.log.info(
        { from: this.route.originNodeId, to: route.originNodeId, role: route.role },
        'route changed: moving pull',
      );
      this.abort?.abort();
    }
  }

  /** The pull broke or the route moved: keep viewers, find the stream again, resume. */
  private async failover(reason: string): Promise<void> {
    this.owner.metrics.failovers.inc({ reason });
    const deadline = Date.now() + this.owner.options.failoverDeadlineMs;
    let attempt = 0;
    while (!this.closed && Date.now() < deadline) {
      try {
        const route = await this.owner.resolver.resolve(this.stream.app, this.stream.name);
        if (route && !this.closed) {
          await this.connect(route);
          return;
        }
      } catch (err) {
        this.log.debug({ err: (err as Error).message }, 'failover attempt failed');
      }
      const delay = BACKOFF_MS[Math.min(attempt++, BACKOFF_MS.length - 1)]!;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
    if (!this.closed) {
      this.log.warn({ reason }, 'stream not found again before the deadline: ending it');
      this.close('failover-deadline');
    }
  }

  protected override onClose(why: PullCloseReason): void {
    this.unwatch();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.wake?.(); // a failover backoff ends now, not when its timer fires
    this.abort?.abort();
    this.publication?.close('closed');
    this.owner.forget(this);
    this.log.info({ why }, 'pull closed');
    if (!this.stream.closed) this.stream.close(why === 'shutdown' ? 'shutdown' : 'stream-ended');
  }

  startIdleWatch(): void {
    this.checkIdle();
  }
}

export class EdgePuller implements StreamSource {
  readonly hub: StreamHub;
  readonly resolver: RouteResolver;
  readonly options: EdgePullOptions;
  readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly pulls = new Map<string, OriginPull>();
  private readonly starting = new Map<string, Promise<HubStream>>();
  private readonly lifecycle = new LifecycleState<'shutdown'>();

  constructor(
    hub: StreamHub,
    resolver: RouteResolver,
    options: EdgePullOptions,
    metrics: Metrics,
    log: Logger,
  ) {
    this.hub = hub;
    this.resolver = resolver;
    this.options = options;
    this.metrics = metrics;
    this.log = log.child({ component: 'edge-pull' });
  }

  get activePulls(): number {
    return this.pulls.size;
  }

  get closed(): boolean {
    return this.lifecycle.closed;
  }

  get closeReason(): 'shutdown' | undefined {
    return this.lifecycle.closeReason;
  }

  /** The pull of app/name, if one runs. */
  pullOf(app: string, name: string): OriginPull | undefined {
    return this.pulls.get(`${app}/${name}`);
  }

  acquire(app: string, name: string): Promise<HubStream> {
    if (this.closed) return Promise.reject(new InvalidStateError('edge puller', this.closeReason));
    const key = `${app}/${name}`;
    const existing = this.pulls.get(key);
    if (existing && !existing.closed) return Promise.resolve(existing.stream);
    let pending = this.starting.get(key);
    if (!pending) {
      pending = this.start(app, name).finally(() => this.starting.delete(key));
      this.starting.set(key, pending);
    }
    return pending;
  }

  private async resolveWaiting(app: string, name: string): Promise<Route> {
    const deadline = Date.now() + this.options.waitForStreamMs;
    for (;;) {
      const route = await this.resolver.resolve(app, name);
      if (route) return route;
      if (Date.now() >= deadline)
        throw new RelaycastError('RC_PLAY_NOT_FOUND', `stream ${app}/${name} is not live`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async start(app: string, name: string): Promise<HubStream> {
    const route = await this.resolveWaiting(app, name);
    if (this.closed) throw new InvalidStateError('edge puller', this.closeReason);
    const stream = this.hub.ensure(app, name);
    const pull = new OriginPull(this, stream, this.log);
    this.pulls.set(stream.key, pull);
    this.metrics.pullsActive.set(this.pulls.size);
    try {
      await pull.connect(route);
    } catch (err) {
      this.metrics.pullsFailed.inc({ reason: 'connect' });
      pull.close('connect-failed');
      throw err;
    }
    // If no viewer attaches (client went away meanwhile), the idle timer ends the pull.
    setImmediate(() => pull.startIdleWatch());
    return stream;
  }

  /** @internal */
  forget(pull: OriginPull): void {
    if (this.pulls.get(pull.stream.key) === pull) this.pulls.delete(pull.stream.key);
    this.metrics.pullsActive.set(this.pulls.size);
  }

  /** Ends every pull (and so their streams and viewers); later acquires fail. Idempotent. */
  close(reason: 'shutdown' = 'shutdown'): void {
    if (!this.lifecycle.begin(reason)) return;
    for (const p of [...this.pulls.values()]) p.close(reason);
  }
}
