/**
 * Leader election through the registry lock, against a real redis-server: one leader at a time,
 * a clean stop hands over at once with a higher fencing token, a leader cut off from Redis steps
 * down on its own before anyone else can take over.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../core/log.ts';
import { RedisRegistry } from '../core/registry/redis.ts';
import { killAll, waitFor } from '../test/helpers/process.ts';
import { type RedisServer, startRedis } from '../test/helpers/redis.ts';
import { LockLeaderElector } from './leader.ts';

const log = createLogger('silent', {});
let server: RedisServer;
let n = 0;

before(async () => {
  server = await startRedis();
});
after(() => killAll());

async function pair(leaseDurationMs = 1000) {
  const prefix = `le${++n}:`;
  const regs = [new RedisRegistry(server.url, prefix), new RedisRegistry(server.url, prefix)];
  for (const r of regs) {
    r.on('error', () => {});
    await r.start();
  }
  const electors = regs.map(
    (r, i) => new LockLeaderElector(r, { leaseName: 'cp', identity: `cp-${i}`, leaseDurationMs }, log),
  );
  return {
    regs,
    electors,
    async close() {
      for (const e of electors) await e.stop();
      for (const r of regs) await r.close().catch(() => {});
    },
  };
}

describe('LockLeaderElector on Redis', { timeout: 60_000 }, () => {
  it('exactly one leader; only it has a fence', async () => {
    const p = await pair();
    try {
      for (const e of p.electors) e.start();
      await waitFor('a leader', () => (p.electors.some((e) => e.isLeader()) ? true : undefined), 5000, 20);
      await new Promise((r) => setTimeout(r, 500));
      const leaders = p.electors.filter((e) => e.isLeader());
      assert.equal(leaders.length, 1);
      const follower = p.electors.find((e) => !e.isLeader())!;
      assert.ok(leaders[0]!.fence());
      assert.equal(follower.fence(), undefined);
      assert.equal(follower.currentHolder(), leaders[0]!.identity);
    } finally {
      await p.close();
    }
  });

  it('a clean stop hands over at once, with a higher token', async () => {
    const p = await pair(5000);
    try {
      for (const e of p.electors) e.start();
      await waitFor('a leader', () => (p.electors.some((e) => e.isLeader()) ? true : undefined), 5000, 20);
      const leader = p.electors.find((e) => e.isLeader())!;
      const other = p.electors.find((e) => e !== leader)!;
      const before = leader.fence()!.token;
      const t0 = Date.now();
      await leader.stop();
      await waitFor('handover', () => (other.isLeader() ? true : undefined), 5000, 20);
      assert.ok(Date.now() - t0 < 3000, 'well before the 5 s lease ran out');
      assert.ok(other.fence()!.token > before);
    } finally {
      await p.close();
    }
  });

  it('a leader cut off from Redis steps down by itself; never two leaders', async () => {
    const p = await pair(1000);
    try {
      for (const e of p.electors) e.start();
      await waitFor('a leader', () => (p.electors.some((e) => e.isLeader()) ? true : undefined), 5000, 20);
      const i = p.electors.findIndex((e) => e.isLeader());
      const leader = p.electors[i]!;
      const other = p.electors[1 - i]!;
      await p.regs[i]!.close(); // its Redis connection is gone: renewals fail
      let both = 0;
      const deadline = Date.now() + 5000;
      while (!other.isLeader() && Date.now() < deadline) {
        if (leader.isLeader() && other.isLeader()) both++;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(other.isLeader(), 'the other replica took over');
      assert.equal(leader.isLeader(), false);
      assert.equal(both, 0);
    } finally {
      await p.close();
    }
  });
});
