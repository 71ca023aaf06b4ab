/**
 * EdgePuller driven in memory: origins are real InternalHttpServers over real StreamHubs, reached
 * through an undici dispatcher that hands out fake sockets; the route resolver is a fake whose
 * change events can be delivered or lost. No port is opened.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, describe, it } from 'node:test';
import { InternalHttpServer } from '../core/internal-http.ts';
import { createLogger } from '../core/log.ts';
import { createMetrics } from '../core/metrics.ts';
import { LocalHubSource } from '../core/sources.ts';
import { inMemoryAgent } from '../core/testing/fake-net.ts';
import { StreamHub } from '../media/hub/hub.ts';
import type { Publication } from '../media/hub/stream.ts';
import type { ViewerCloseReason, ViewerSink } from '../media/hub/viewer.ts';
import { TAG_VIDEO } from '../media/tag.ts';
import { EdgePuller, type EdgePullOptions } from './pull.ts';
import type { Route, RouteResolver } from './route.ts';

const log = createLogger('silent');
const metrics = createMetrics({ role: 'edge', nodeId: 'e', version: '0', maxStreams: 10 });
const VIDEO_SEQ = Buffer.from([0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff]);
const key = (n: number) => Buffer.from([0x17, 0x01, 0, 0, 0, n & 0xff, 1, 2, 3]);
const turn = () => new Promise<void>((r) => setImmediate(r));

async function until(what: string, check: () => boolean, turns = 20_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (check()) return;
    await (i < 200 ? turn() : new Promise((r) => setTimeout(r, 1)));
  }
  assert.fail(`never happened: ${what}`);
}

class Sink implements ViewerSink {
  bytes = 0;
  bufferedBytes = 0;
  closedWith: ViewerCloseReason | undefined;
  write(b: Buffer) {
    this.bytes += b.length;
  }
  close(r: ViewerCloseReason) {
    this.closedWith ??= r;
  }
}

class Origin {
  readonly hub = new StreamHub({ republishWaitMs: 60_000 });
  readonly internal: InternalHttpServer;
  readonly url: string;
  pub: Publication | undefined;
  constructor(readonlyUrl: string) {
    this.url = readonlyUrl;
    this.internal = new InternalHttpServer(
      this.hub,
      new LocalHubSource(this.hub),
      undefined,
      { host: '127.0.0.1', port: 0, clusterToken: undefined },
      metrics,
      log,
    );
  }
  publish(name = 'cam'): Publication {
    this.pub = this.hub.publish('live', name, { sessionId: this.url, kind: 'test' });
    this.pub.pushTag(TAG_VIDEO, 0, VIDEO_SEQ);
    this.pub.pushTag(TAG_VIDEO, 0, key(0));
    return this.pub;
  }
  route(generation: number, name = 'cam'): Route {
    return {
      app: 'live',
      name,
      originNodeId: this.url,
      originUrl: this.url,
      generation,
      role: 'primary',
      pullUrl: `${this.url}/live/${name}.flv`,
    };
  }
}

class FakeResolver implements RouteResolver {
  route: Route | undefined;
  resolves = 0;
  /** While true, change notifications are dropped (a lost pub/sub event). */
  loseEvents = false;
  private readonly watchers = new Set<() => void>();
  async resolve(): Promise<Route | undefined> {
    this.resolves++;
    return this.route;
  }
  watch(_app: string, _name: string, onChange: () => void): () => void {
    this.watchers.add(onChange);
    return () => this.watchers.delete(onChange);
  }
  move(route: Route | undefined): void {
    this.route = route;
    if (!this.loseEvents) for (const fn of this.watchers) fn();
  }
  get watcherCount(): number {
    return this.watchers.size;
  }
}

function setup(
  origins: Origin[],
  options: Partial<EdgePullOptions> = {},
  extra: Record<string, Server> = {},
) {
  const servers = new Map<string, Server>(origins.map((o) => [o.url, o.internal.server]));
  for (const [url, server] of Object.entries(extra)) servers.set(url, server);
  const down = new Set<string>();
  const dispatcher = inMemoryAgent((origin) => (down.has(origin) ? undefined : servers.get(origin)));
  const resolver = new FakeResolver();
  const edgeHub = new StreamHub({ republishWaitMs: 60_000 });
  const puller = new EdgePuller(
    edgeHub,
    resolver,
    {
      clusterToken: undefined,
      pullIdleTimeoutMs: 60_000,
      waitForStreamMs: 0,
      failoverDeadlineMs: 5000,
      bodyTimeoutMs: 60_000,
      dispatcher,
      ...options,
    },
    metrics,
    log,
  );
  return { resolver, edgeHub, puller, down, dispatcher };
}

describe('EdgePuller in memory', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups) await c();
  });

  it('100 concurrent first viewers share one pull from the origin', async () => {
    const a = new Origin('http://origin-a:8081');
    a.publish();
    const { resolver, puller, edgeHub, dispatcher } = setup([a]);
    cleanups.push(() => dispatcher.close());
    resolver.route = a.route(1);
    const streams = await Promise.all(Array.from({ length: 100 }, () => puller.acquire('live', 'cam')));
    assert.equal(new Set(streams).size, 1);
    assert.equal(a.internal.pullsServed, 1);
    assert.equal(resolver.resolves, 1);
    const sinks = streams.map((s) => {
      const sink = new Sink();
      s.addViewer(sink, { format: 'flv', protocol: 'flv' });
      return sink;
    });
    await until('every edge viewer got the keyframe', () => sinks.every((s) => s.bytes > 0));
    puller.close();
    edgeHub.close();
    a.hub.close();
  });

  it('route change event: the pull moves to the new origin at once, viewers stay', async () => {
    const a = new Origin('http://origin-a:8081');
    const b = new Origin('http://origin-b:8081');
    a.publish();
    const { resolver, puller, edgeHub, dispatcher } = setup([a, b]);
    cleanups.push(() => dispatcher.close());
    resolver.route = a.route(1);
    const stream = await puller.acquire('live', 'cam');
    const sink = new Sink();
    const viewer = stream.addViewer(sink, { format: 'flv', protocol: 'flv' });
    await until('first bytes', () => sink.bytes > 0);
    b.publish();
    resolver.move(b.route(2));
    await until('pulling from b', () => b.internal.pullsServed === 1);
    await until(
      'b publication on the edge',
      () => stream.publisher?.info.sessionId.startsWith('pull:http://origin-b') ?? false,
    );
    assert.equal(viewer.closed, false);
    assert.equal(stream.counters.publishes, 2);
    puller.close();
    edgeHub.close();
    a.hub.close();
    b.hub.close();
  });

  it('a lost route event: the silent old pull times out and the edge finds the new origin', async () => {
    const a = new Origin('http://origin-a:8081');
    const b = new Origin('http://origin-b:8081');
    a.publish();
    const { resolver, puller, edgeHub, dispatcher } = setup([a, b], { bodyTimeoutMs: 300 });
    cleanups.push(() => dispatcher.close());
    resolver.route = a.route(1);
    const stream = await puller.acquire('live', 'cam');
    const sink = new Sink();
    const viewer = stream.addViewer(sink, { format: 'flv', protocol: 'flv' });
    await until('first bytes', () => sink.bytes > 0);
    // Origin a loses the stream (its lease) but keeps the pull connection open and silent; the
    // route moves to b and the event never reaches this edge.
    a.hub.get('live', 'cam')!.kickPublisher('kicked');
    b.publish();
    resolver.loseEvents = true;
    resolver.move(b.route(2));
    await until('pulling from b', () => b.internal.pullsServed === 1);
    assert.equal(viewer.closed, false);
    puller.close();
    edgeHub.close();
    a.hub.close();
    b.hub.close();
  });

  it('no origin has the stream again before the deadline: pull, stream and viewers close with their reasons', async () => {
    const a = new Origin('http://origin-a:8081');
    a.publish();
    const { resolver, puller, edgeHub, down, dispatcher } = setup([a], { failoverDeadlineMs: 300 });
    cleanups.push(() => dispatcher.close());
    resolver.route = a.route(1);
    const stream = await puller.acquire('live', 'cam');
    const pull = puller.pullOf('live', 'cam')!;
    const sink = new Sink();
    const viewer = stream.addViewer(sink, { format: 'flv', protocol: 'flv' });
    await until('first bytes', () => sink.bytes > 0);
    down.add(a.url);
    resolver.move(undefined);
    a.hub.close(); // the origin ends every connection
    await until('pull closed', () => pull.closed);
    assert.equal(pull.closeReason, 'failover-deadline');
    assert.equal(stream.closed, true);
    assert.equal(viewer.closeReason, 'stream-ended');
    assert.equal(sink.closedWith, 'stream-ended');
    assert.equal(resolver.watcherCount, 0, 'the route watch is released');
    assert.equal(puller.activePulls, 0);
    edgeHub.close();
  });

  it('an origin that answers 404 (the stream ended there) is a typed refusal: RC_PLAY_NOT_FOUND, no pull left, nothing uncaught', async () => {
    // The head comes first, the body later: the edge must not leave that unread body erroring.
    const slow404 = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.flushHeaders();
      setTimeout(() => res.end('{"error":{"code":"RC_PLAY_NOT_FOUND"}}'), 20);
    });
    const a = new Origin('http://origin-a:8081');
    const { resolver, puller, edgeHub, dispatcher } = setup([], {}, { [a.url]: slow404 });
    cleanups.push(() => dispatcher.close());
    resolver.route = a.route(1, 'gone');
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      await assert.rejects(puller.acquire('live', 'gone'), { code: 'RC_PLAY_NOT_FOUND' });
      await new Promise((r) => setTimeout(r, 50)); // the body's arrival
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    assert.deepEqual(uncaught, []);
    assert.equal(puller.activePulls, 0);
    puller.close();
    edgeHub.close();
    a.hub.close();
  });

  it('last viewer leaves: the pull ends after the idle time and the origin sees its viewer go', async () => {
    const a = new Origin('http://origin-a:8081');
    a.publish();
    const { resolver, puller, edgeHub, dispatcher } = setup([a], { pullIdleTimeoutMs: 50 });
    cleanups.push(() => dispatcher.close());
    resolver.route = a.route(1);
    const stream = await puller.acquire('live', 'cam');
    const pull = puller.pullOf('live', 'cam')!;
    const viewer = stream.addViewer(new Sink(), { format: 'flv', protocol: 'flv' });
    const originStream = a.hub.get('live', 'cam')!;
    await until('origin serves the edge', () => originStream.viewers.size === 1);
    viewer.close('client-gone');
    await until('pull idle-closed', () => pull.closed);
    assert.equal(pull.closeReason, 'idle');
    assert.equal(stream.closed, true);
    await until('origin viewer gone', () => originStream.viewers.size === 0);
    puller.close();
    assert.equal(puller.closed, true);
    await assert.rejects(puller.acquire('live', 'cam'), { code: 'RC_INVALID_STATE' });
    edgeHub.close();
    a.hub.close();
  });
});
