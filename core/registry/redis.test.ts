import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { killAll, waitFor } from '../../test/helpers/process.ts';
import { type RedisServer, startRedis } from '../../test/helpers/redis.ts';
import { runRegistryContract } from './contract.ts';
import { parseRedisUrl, RedisRegistry } from './redis.ts';

let server: RedisServer;
let prefixCounter = 0;

before(async () => {
  server = await startRedis();
});
after(async () => {
  await killAll();
});

runRegistryContract('redis', async () => {
  const prefix = `t${++prefixCounter}:`;
  const registry = new RedisRegistry(server.url, prefix);
  const peer = new RedisRegistry(server.url, prefix);
  await registry.start();
  await peer.start();
  return {
    registry,
    peer,
    cleanup: async () => {
      await registry.close();
      await peer.close();
    },
  };
});

describe('RedisRegistry outside the contract', { timeout: 60_000 }, () => {
  it('parses standalone and Sentinel URLs', () => {
    assert.deepEqual(parseRedisUrl('redis://:s3cret@10.0.0.1:6380/2'), {
      host: '10.0.0.1',
      port: 6380,
      password: 's3cret',
      db: 2,
    });
    assert.deepEqual(parseRedisUrl('redis-sentinel://:pw@s1:26379,s2:26380/mymaster?db=1'), {
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
      name: 'mymaster',
      password: 'pw',
      db: 1,
    });
    assert.throws(() => parseRedisUrl('http://x'), /redis:\/\/host:port/);
  });

  it('survives a Redis restart: down, fast failures during the outage, up again, working', async () => {
    const r = new RedisRegistry(server.url, 'restart:');
    const states: string[] = [];
    r.on('connection', (s: string) => states.push(s));
    r.on('error', () => {});
    await r.start();
    await r.heartbeatNode(
      {
        id: 'n',
        role: 'origin',
        advertiseHost: 'h',
        load: { streams: 0, viewers: 0, egressMbps: 0, ingressMbps: 0 },
        draining: false,
        startedAt: 0,
        version: 'v',
      },
      10_000,
    );
    await server.stop('SIGKILL');
    await waitFor('down', () => (states.includes('down') ? true : undefined), 10_000);
    const t0 = Date.now();
    await assert.rejects(r.listNodes());
    assert.ok(Date.now() - t0 < 3000, 'calls fail fast while Redis is down');
    await server.restart();
    await waitFor('up again', () => (states.at(-1) === 'up' ? true : undefined), 15_000);
    assert.deepEqual(await r.listNodes(), [], 'a restarted Redis without persistence is empty');
    assert.ok((await r.nextGeneration('live', 'x')) >= 1);
    await r.close();
  });
});
