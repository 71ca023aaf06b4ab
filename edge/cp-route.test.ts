import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { createLogger } from '../core/log.ts';
import { createMetrics } from '../core/metrics.ts';
import type { Route } from '../core/registry/route.ts';
import type { ControlPlaneApi } from '../proto/client.ts';
import { ControlPlaneResolver } from './cp-route.ts';
import type { RouteResolver } from './route.ts';

const route = (originNodeId: string): Route => ({
  app: 'live',
  name: 's',
  originNodeId,
  originUrl: `http://${originNodeId}:8081`,
  pullUrl: `http://${originNodeId}:8081/live/s.flv`,
  generation: 3,
  role: 'primary',
});

function setup(answer: () => Promise<unknown>) {
  let cpCalls = 0;
  let registryCalls = 0;
  const api = {
    target: 'cp:50051',
    call: async () => {
      cpCalls++;
      return answer();
    },
    watchRoute: () => Object.assign(new EventEmitter(), { cancel() {} }),
  } as unknown as ControlPlaneApi;
  const fallback: RouteResolver = {
    resolve: async () => {
      registryCalls++;
      return route('from-registry');
    },
    watch: () => () => {},
  };
  const metrics = createMetrics({ role: 'edge', nodeId: 'e', version: 't', maxStreams: 10 });
  const resolver = new ControlPlaneResolver(
    api,
    fallback,
    { resolveTimeoutMs: 100 },
    metrics,
    createLogger('silent', {}),
  );
  return { resolver, metrics, counts: () => ({ cpCalls, registryCalls }) };
}

describe('ControlPlaneResolver', () => {
  it('uses the control plane; NOT_FOUND is an answer, not a failure', async () => {
    let found = true;
    const { resolver, counts } = setup(async () => {
      if (found) return { ...route('o1'), role: 'PUBLISHER_ROLE_BACKUP' };
      throw Object.assign(new Error('not live'), { code: status.NOT_FOUND, details: 'not live' });
    });
    const r = await resolver.resolve('live', 's');
    assert.equal(r?.originNodeId, 'o1');
    assert.equal(r?.role, 'backup');
    found = false;
    assert.equal(await resolver.resolve('live', 's'), undefined);
    assert.deepEqual(counts(), { cpCalls: 2, registryCalls: 0 });
  });

  it('falls back to the registry when the control plane fails, and skips it for a while', async () => {
    const { resolver, metrics, counts } = setup(async () => {
      throw Object.assign(new Error('down'), { code: status.UNAVAILABLE, details: 'connection refused' });
    });
    assert.equal((await resolver.resolve('live', 's'))?.originNodeId, 'from-registry');
    assert.equal((await resolver.resolve('live', 's'))?.originNodeId, 'from-registry');
    assert.deepEqual(counts(), { cpCalls: 1, registryCalls: 2 }, 'the second lookup went straight to Redis');
    const up = await metrics.registry.getSingleMetric('relaycast_control_plane_up')?.get();
    assert.equal(up?.values[0]?.value, 0);
  });
});
