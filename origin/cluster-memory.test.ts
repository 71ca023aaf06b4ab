/**
 * OriginCluster against the in-memory registry, two origins in one process, a fake clock for the
 * lease renewal loop: takeover by a newer generation, a lost pub/sub event caught by the renewal
 * (fencing), a lease that lapsed and is re-registered, an admin kick, drain.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { afterEach, describe, it, mock } from 'node:test';
import { createLogger } from '../core/log.ts';
import { createMetrics } from '../core/metrics.ts';
import { MemoryRegistry } from '../core/registry/memory.ts';
import type { Registry } from '../core/registry/registry.ts';
import { resolveRoute } from '../core/registry/route.ts';
import type { RegistryEvent } from '../core/registry/types.ts';
import type { PublishRequest } from '../core/rtmp/session.ts';
import { StreamStatsSampler } from '../core/stream-info.ts';
import { StreamHub } from '../media/hub/hub.ts';
import type { Publication, PublicationEndReason } from '../media/hub/stream.ts';
import { OriginCluster } from './cluster.ts';
import { Origin } from './origin.ts';
import { PublishAuthorizer } from './publish-auth.ts';

const log = createLogger('silent');
const LEASE_TTL_MS = 3000;
const turn = () => new Promise<void>((r) => setImmediate(r));

async function settle(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await turn();
}

/**
 * The registry as one origin sees it: same store, but its pub/sub events can be dropped (a lost
 * Redis pub/sub message, a subscriber reconnecting).
 */
function lossyView(registry: MemoryRegistry): { view: Registry; drop: { on: boolean } } {
  const drop = { on: false };
  const events = new EventEmitter();
  registry.on('event', (e: RegistryEvent) => {
    if (!drop.on) events.emit('event', e);
  });
  const view = new Proxy(registry, {
    get(target, prop, receiver) {
      if (prop === 'on' || prop === 'off' || prop === 'once')
        return (name: string, fn: (...a: unknown[]) => void) => {
          if (name === 'event') events[prop as 'on'](name, fn);
          else target[prop as 'on'](name, fn);
          return receiver;
        };
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as unknown as Registry;
  return { view, drop };
}

function originNode(registry: Registry, nodeId: string, publishTakeover: 'same-ip' | 'any' = 'same-ip') {
  const metrics = createMetrics({ role: 'origin', nodeId, version: '0', maxStreams: 10 });
  const hub = new StreamHub({ republishWaitMs: 60_000 });
  const origin = new Origin(
    hub,
    new PublishAuthorizer('open', undefined),
    { maxStreams: 0, publishTakeover },
    metrics,
    log,
  );
  const stats = new StreamStatsSampler(hub);
  const cluster = new OriginCluster(
    registry,
    origin,
    stats,
    {
      nodeId,
      internalUrl: `http://${nodeId}:8081`,
      advertiseHost: nodeId,
      rtmpUrl: `rtmp://${nodeId}:1935`,
      adminUrl: `http://${nodeId}:9090`,
      leaseTtlMs: LEASE_TTL_MS,
      version: '0',
    },
    metrics,
    log,
  );
  const ended: PublicationEndReason[] = [];
  const publish = (name: string, remote = `${nodeId}-encoder:5000`): Promise<Publication> => {
    const req: PublishRequest = {
      app: 'live',
      streamName: name,
      query: new URLSearchParams(),
      remote,
      tcUrl: undefined,
    };
    return origin.publish(req, (r) => ended.push(r));
  };
  const close = () => {
    cluster.close();
    stats.close();
    hub.close();
  };
  return { hub, origin, cluster, publish, ended, close };
}

describe('OriginCluster with MemoryRegistry', () => {
  afterEach(() => mock.timers.reset());

  it('a newer publish on another origin takes the stream: the old publication is revoked, the route moves', async () => {
    const registry = new MemoryRegistry();
    await registry.start();
    const a = originNode(registry, 'origin-a');
    const b = originNode(registry, 'origin-b');
    a.cluster.start();
    b.cluster.start();
    const pa = await a.publish('cam');
    await settle();
    assert.equal((await resolveRoute(registry, 'live', 'cam'))?.originNodeId, 'origin-a');
    const pb = await b.publish('cam', 'origin-a-encoder:6000'); // the same encoder, reconnected;
    await settle();
    assert.equal(pa.closeReason, 'takeover');
    assert.deepEqual(a.ended, ['takeover']);
    assert.equal(pb.closed, false);
    const route = await resolveRoute(registry, 'live', 'cam');
    assert.equal(route?.originNodeId, 'origin-b');
    assert.ok(route && route.generation > 1);
    a.close();
    b.close();
    await registry.close();
  });

  it('a lost pub/sub event: the next lease renewal finds the newer generation and fences the old origin off', async () => {
    mock.timers.enable({ apis: ['setInterval', 'setTimeout', 'Date'], now: 1_000_000 });
    const registry = new MemoryRegistry();
    await registry.start();
    const lossy = lossyView(registry);
    const a = originNode(lossy.view, 'origin-a');
    const b = originNode(registry, 'origin-b');
    a.cluster.start();
    b.cluster.start();
    const pa = await a.publish('cam');
    await settle();
    lossy.drop.on = true; // origin-a will not hear that origin-b took the stream
    await b.publish('cam', 'origin-a-encoder:6000');
    await settle();
    assert.equal(pa.closed, false, 'without the event, origin-a still thinks it publishes');
    mock.timers.tick(LEASE_TTL_MS / 3); // one renewal period
    await settle();
    assert.equal(pa.closeReason, 'takeover');
    assert.equal((await resolveRoute(registry, 'live', 'cam'))?.originNodeId, 'origin-b');
    a.close();
    b.close();
    await registry.close();
  });

  it('a lapsed lease (registry lost the record) is registered again on the next renewal, same generation', async () => {
    mock.timers.enable({ apis: ['setInterval', 'setTimeout', 'Date'], now: 2_000_000 });
    const registry = new MemoryRegistry();
    await registry.start();
    const a = originNode(registry, 'origin-a');
    a.cluster.start();
    const pa = await a.publish('cam');
    await settle();
    const before = await registry.getStream('live', 'cam');
    assert.ok(before);
    // The record vanishes (a Redis restart): the renewal must notice and register again.
    await registry.unregisterStream('live', 'cam', before.generation, 'test', 'primary');
    assert.equal(await registry.getStream('live', 'cam'), undefined);
    mock.timers.tick(LEASE_TTL_MS / 3);
    await settle();
    const after = await registry.getStream('live', 'cam');
    assert.equal(after?.originNodeId, 'origin-a');
    assert.equal(after?.generation, before.generation);
    assert.equal(pa.closed, false);
    a.close();
    await registry.close();
  });

  it('an admin kick revokes the publication with its generation; drain gives every stream up', async () => {
    const registry = new MemoryRegistry();
    await registry.start();
    const a = originNode(registry, 'origin-a');
    a.cluster.start();
    const p1 = await a.publish('one');
    const p2 = await a.publish('two');
    await settle();
    const rec = await registry.getStream('live', 'one');
    await registry.publish({
      type: 'kick',
      app: 'live',
      name: 'one',
      generation: (rec?.generation ?? 0) + 1, // a stale kick for another generation
      reason: 'kicked-by-admin',
    } as RegistryEvent);
    await settle();
    assert.equal(p1.closed, false, 'a kick for another generation is ignored');
    await registry.publish({
      type: 'kick',
      app: 'live',
      name: 'one',
      generation: rec?.generation,
      reason: 'kicked-by-admin',
    } as RegistryEvent);
    await settle();
    assert.equal(p1.closed, true);
    await a.cluster.drain();
    assert.equal(await registry.getStream('live', 'two'), undefined);
    assert.equal(p2.closed, false, 'drain keeps the live publisher until it reconnects elsewhere');
    await assert.rejects(a.publish('three'), { code: 'RC_PUBLISH_DRAINING' });
    a.close();
    await registry.close();
  });

  it('a publish while the registry is unreachable is refused, so it can never outrank a newer publish after the heal', async () => {
    mock.timers.enable({ apis: ['setInterval', 'setTimeout', 'Date'], now: 1_000_000 });
    const registry = new MemoryRegistry();
    await registry.start();
    const down = { on: true };
    // origin-a cannot reach the registry: every call fails until `down.on` is cleared
    const cutOff = new Proxy(registry, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (down.on && prop !== 'on' && prop !== 'off' && prop !== 'once')
            return Promise.reject(new Error('Connection is closed.'));
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as unknown as Registry;
    const a = originNode(cutOff, 'origin-a');
    const b = originNode(registry, 'origin-b');
    a.cluster.start();
    b.cluster.start();
    await assert.rejects(a.publish('cam'), { code: 'RC_REGISTRY_UNAVAILABLE' });
    assert.equal(a.hub.getLive('live', 'cam'), undefined, 'nothing went live on origin-a');
    const pb = await b.publish('cam'); // the broadcaster's retry lands on origin-b
    await settle();
    down.on = false; // origin-a heals
    mock.timers.tick(LEASE_TTL_MS); // renewal periods on both
    await settle();
    assert.equal(pb.closed, false, 'the newer, live publish keeps the stream');
    assert.equal((await resolveRoute(registry, 'live', 'cam'))?.originNodeId, 'origin-b');
    a.close();
    b.close();
    await registry.close();
  });

  it('open publishing: a live name is taken over only from its encoder address, on this origin and across origins', async () => {
    const registry = new MemoryRegistry();
    await registry.start();
    const a = originNode(registry, 'origin-a');
    const b = originNode(registry, 'origin-b');
    a.cluster.start();
    b.cluster.start();
    const first = await a.publish('cam', '10.0.0.1:5000');
    await settle();
    assert.equal((await registry.getStream('live', 'cam'))?.publisherIp, '10.0.0.1');
    await assert.rejects(a.publish('cam', '10.6.6.6:4000'), { code: 'RC_PUBLISH_STREAM_BUSY' });
    await assert.rejects(b.publish('cam', '10.6.6.6:4000'), { code: 'RC_PUBLISH_STREAM_BUSY' });
    assert.equal(first.closed, false, 'the live broadcast is untouched');
    // the encoder reconnecting (new port, through the load balancer to the other origin) takes over
    const again = await b.publish('cam', '10.0.0.1:6000');
    await settle();
    assert.equal(first.closeReason, 'takeover');
    assert.equal(again.closed, false);
    a.close();
    b.close();
    await registry.close();
  });

  it('--publish-takeover any: whoever publishes last takes the stream', async () => {
    const registry = new MemoryRegistry();
    await registry.start();
    const a = originNode(registry, 'origin-a', 'any');
    a.cluster.start();
    const first = await a.publish('cam', '10.0.0.1:5000');
    const second = await a.publish('cam', '10.6.6.6:4000');
    await settle();
    assert.equal(first.closeReason, 'takeover');
    assert.equal(second.closed, false);
    a.close();
    await registry.close();
  });
});
