import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../core/log.ts';
import { createMetrics } from '../core/metrics.ts';
import { hashStreamKey } from '../core/registry/keys.ts';
import { MemoryRegistry } from '../core/registry/memory.ts';
import type { PublisherRole, RegistryEvent, StreamRecord } from '../core/registry/types.ts';
import type { Fence, LeaderElector } from './leader.ts';
import { ControlService, isStalled } from './service.ts';
import { BackupSwitcher } from './switcher.ts';

const log = createLogger('silent', {});

function rec(name: string, role: PublisherRole, generation: number, extra: Partial<StreamRecord> = {}) {
  return {
    app: 'live',
    name,
    role,
    originNodeId: `origin-${role}`,
    originUrl: `http://${role}.example:8081`,
    sessionId: `${role}-${generation}`,
    generation,
    startedAt: Date.now(),
    ...extra,
  };
}

class FakeElector extends EventEmitter implements LeaderElector {
  readonly kind = 'memory' as const;
  readonly identity = 'cp-test';
  leader = true;
  token = 7;
  isLeader() {
    return this.leader;
  }
  fence(): Fence | undefined {
    return this.leader ? { name: 'test', token: this.token } : undefined;
  }
  currentHolder() {
    return this.leader ? this.identity : undefined;
  }
  start() {}
  async stop() {}
}

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('ControlService', () => {
  const registry = new MemoryRegistry();
  const s = new ControlService(registry, 'cp-test');
  const events: RegistryEvent[] = [];
  before(async () => {
    await registry.start();
    registry.on('event', (e: RegistryEvent) => events.push(e));
  });
  after(() => registry.close());

  it('channels with a source: validated, stored, shown with the receiving node status (the all-in-one own, a cluster origin report)', async () => {
    const status = { state: 'receiving', bitrateKbps: 900, ccErrors: 2, packets: 10, lastPacketAt: 1 };
    const withSources = new ControlService(registry, 'cp-src', {
      sourceStatus: (app, name) => (app === 'live' && name === 'tvsrc' ? status : undefined),
    });
    const res = await withSources.createChannel('live', 'tvsrc', {
      source: { url: 'udp://239.1.1.1:5000', interfaceAddress: '127.0.0.1' },
    });
    assert.deepEqual(res.channel.source, {
      url: 'udp://239.1.1.1:5000',
      interfaceAddress: '127.0.0.1',
      status,
    });
    assert.deepEqual((await registry.getChannel('live', 'tvsrc'))?.source, {
      url: 'udp://239.1.1.1:5000',
      interfaceAddress: '127.0.0.1',
    });
    await assert.rejects(
      withSources.createChannel('live', 'tvbad', { source: { url: 'udp://example.com:1' } }),
      {
        code: 'RC_SOURCE_URL_INVALID',
      },
    );
    // In a cluster the origin the leader assigned reports through the registry.
    const created = await s.createChannel('live', 'tvcluster', { source: { url: 'udp://239.1.1.1:5000' } });
    assert.equal(created.channel.source?.status, undefined, 'not assigned yet');
    await registry.putSourceAssignment('live', 'tvcluster', { nodeId: 'o1', at: 1, reason: 'new' });
    assert.deepEqual((await s.getChannel('live', 'tvcluster')).source?.status, {
      state: 'assigned',
      bitrateKbps: 0,
      ccErrors: 0,
      packets: 0,
      lastPacketAt: 0,
      nodeId: 'o1',
    });
    const report = {
      nodeId: 'o1',
      state: 'receiving',
      bitrateKbps: 800,
      ccErrors: 0,
      packets: 5,
      lastPacketAt: 9,
      silentSince: 0,
    };
    await registry.putSourceStatus('live', 'tvcluster', report, 60_000);
    assert.deepEqual((await s.getChannel('live', 'tvcluster')).source?.status, report);
    await s.deleteChannel('live', 'tvcluster');
    await withSources.deleteChannel('live', 'tvsrc');
  });

  it('creates a channel: the key is returned once and stored only as a hash', async () => {
    const res = await s.createChannel('live', 'news', { backup: true });
    assert.match(res.key, /^rc_[A-Za-z0-9_-]{24}$/);
    assert.ok(res.backupKey && res.backupKey !== res.key);
    const stored = await registry.getChannel('live', 'news');
    assert.equal(stored?.keyHash, hashStreamKey(res.key));
    assert.ok(!JSON.stringify(stored).includes(res.key));
    assert.deepEqual(
      await registry.findChannelByKeyHash(hashStreamKey(res.backupKey!)).then((f) => f?.role),
      'backup',
    );
    assert.deepEqual(res.channel.failover, { autoRevert: true, revertAfterMs: 5000, noMediaTimeoutMs: 2000 });
    await assert.rejects(s.createChannel('live', 'news'), { code: 'RC_CONFLICT' });
    await assert.rejects(s.createChannel('live', 'bad name'), { code: 'RC_NAME_INVALID' });
    await assert.rejects(s.createChannel('live', 'news~backup'), { code: 'RC_NAME_INVALID' });
    await assert.rejects(s.createChannel('../../etc', 'x'), { code: 'RC_NAME_INVALID' });
    await assert.rejects(s.getChannel('live', '..'), { code: 'RC_NAME_INVALID' });
    await assert.rejects(s.getStream('a/../b', 'x'), { code: 'RC_NAME_INVALID' });
    await assert.rejects(s.kick('live', '.', undefined, 'test'), { code: 'RC_NAME_INVALID' });
    await assert.rejects(s.createChannel('live', 'x', { failover: { revertAfterMs: 5 } }), {
      code: 'RC_BAD_REQUEST',
    });
  });

  it('reset-key invalidates the old key and kicks the live publisher on it', async () => {
    const { key } = await s.createChannel('live', 'reset');
    await registry.registerStream(rec('reset', 'primary', 3), 5000);
    events.length = 0;
    const res = await s.resetKey('live', 'reset');
    assert.notEqual(res.key, key);
    assert.equal(res.kicked, 1);
    assert.equal(await registry.findChannelByKeyHash(hashStreamKey(key)), undefined);
    assert.equal((await registry.findChannelByKeyHash(hashStreamKey(res.key)))?.channel.name, 'reset');
    const kick = await until('kick event', () => events.find((e) => e.type === 'kick'));
    assert.deepEqual(kick, {
      type: 'kick',
      app: 'live',
      name: 'reset',
      generation: 3,
      role: 'primary',
      reason: 'key-reset',
    });
    await assert.rejects(s.resetKey('live', 'reset', 'backup'), { code: 'RC_BAD_REQUEST' });
    await assert.rejects(s.resetKey('live', 'nope'), { code: 'RC_NOT_FOUND' });
  });

  it('backup on/off: a key is issued once; removing it kicks the backup and points the route at the primary', async () => {
    await s.createChannel('live', 'bk');
    const on = await s.setBackup('live', 'bk', true, { revertAfterMs: 1000 });
    assert.ok(on.backupKey);
    assert.equal(on.channel.failover.revertAfterMs, 1000);
    assert.equal((await s.setBackup('live', 'bk', true)).backupKey, undefined);
    await registry.setActiveRole('live', 'bk', 'backup', 'test');
    const off = await s.setBackup('live', 'bk', false);
    assert.equal(off.channel.hasBackup, false);
    assert.equal(await registry.getActiveRole('live', 'bk'), 'primary');
    assert.equal(await registry.findChannelByKeyHash(hashStreamKey(on.backupKey!)), undefined);
  });

  it('a manual switch needs a live target unless forced, and is recorded as by admin', async () => {
    await s.createChannel('live', 'man', { backup: true });
    await assert.rejects(s.switchChannel('live', 'man', 'backup'), { code: 'RC_FAILED_PRECONDITION' });
    await s.switchChannel('live', 'man', 'backup', 'test', true);
    const [last] = await registry.listSwitches('live', 'man');
    assert.deepEqual([last?.to, last?.by, last?.reason], ['backup', 'admin', 'test']);
  });

  it('delete kicks live publishers; getStream/listStreams describe publishers and switches', async () => {
    await s.createChannel('live', 'gone', { backup: true });
    await registry.registerStream(rec('gone', 'primary', 1), 5000);
    await registry.registerStream(rec('gone', 'backup', 2), 5000);
    const view = await s.getStream('live', 'gone');
    assert.deepEqual(
      view.publishers.map((p) => p.role),
      ['primary', 'backup'],
    );
    assert.equal(view.route?.role, 'primary');
    assert.ok((await s.listStreams()).some((v) => v.name === 'gone'));
    assert.equal((await s.deleteChannel('live', 'gone')).kicked, 2);
    await assert.rejects(s.getChannel('live', 'gone'), { code: 'RC_NOT_FOUND' });
  });

  it('a stalled publisher is one whose origin saw no media for the timeout', () => {
    const now = Date.now();
    const r = { ...rec('x', 'primary', 1), updatedAt: now };
    assert.equal(isStalled({ ...r, lastMediaAt: now - 100 }, 2000), false);
    assert.equal(isStalled({ ...r, lastMediaAt: now - 2500 }, 2000), true);
    assert.equal(isStalled({ ...r, startedAt: now - 3000 }, 2000), true, 'never sent media');
  });
});

describe('BackupSwitcher', () => {
  const registry = new MemoryRegistry();
  const service = new ControlService(registry, 'cp-test');
  const elector = new FakeElector();
  const metrics = createMetrics({
    role: 'control-plane',
    nodeId: 'cp-test',
    version: 'test',
    maxStreams: 10,
  });
  const switcher = new BackupSwitcher(registry, elector, { intervalMs: 50, channelCacheMs: 0 }, metrics, log);
  before(async () => {
    await registry.start();
    switcher.start();
  });
  after(async () => {
    switcher.stop();
    await registry.close();
  });

  it('primary down → backup at once; primary back → primary after the revert delay', async () => {
    await service.createChannel('live', 'sw', { backup: true, failover: { revertAfterMs: 400 } });
    await registry.registerStream(rec('sw', 'primary', 1), 5000);
    await registry.registerStream(rec('sw', 'backup', 2), 5000);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(await registry.getActiveRole('live', 'sw'), 'primary');
    const downAt = Date.now();
    await registry.unregisterStream('live', 'sw', 1, 'test', 'primary');
    await until('switch to backup', async () =>
      (await registry.getActiveRole('live', 'sw')) === 'backup' ? true : undefined,
    );
    assert.ok(Date.now() - downAt < 1000);
    const [first] = await registry.listSwitches('live', 'sw');
    assert.deepEqual([first?.reason, first?.by], ['primary-down', 'cp-test']);

    const backAt = Date.now();
    await registry.registerStream(rec('sw', 'primary', 3), 5000);
    await until('revert', async () =>
      (await registry.getActiveRole('live', 'sw')) === 'primary' ? true : undefined,
    );
    const waited = Date.now() - backAt;
    assert.ok(waited >= 400, `reverted after ${waited} ms, before the 400 ms delay`);
    assert.equal((await registry.listSwitches('live', 'sw'))[0]?.reason, 'primary-recovered');
  });

  it('a live but stalled primary counts as failed', async () => {
    await service.createChannel('live', 'stall', {
      backup: true,
      failover: { noMediaTimeoutMs: 300, autoRevert: false },
    });
    const now = Date.now();
    await registry.registerStream(rec('stall', 'primary', 1, { startedAt: now - 10_000 }), 5000);
    await registry.registerStream(rec('stall', 'backup', 2), 5000);
    await registry.renewStream('live', 'stall', 2, 5000, { lastMediaAt: Date.now() }, 'backup');
    await registry.renewStream('live', 'stall', 1, 5000, { lastMediaAt: now - 1000 }, 'primary');
    await until('switch on stall', async () =>
      (await registry.getActiveRole('live', 'stall')) === 'backup' ? true : undefined,
    );
    assert.equal((await registry.listSwitches('live', 'stall'))[0]?.reason, 'primary-stalled');
  });

  it('never reverts a manual switch, and does nothing while not leader', async () => {
    await service.createChannel('live', 'keep', { backup: true, failover: { revertAfterMs: 100 } });
    await registry.registerStream(rec('keep', 'primary', 1), 5000);
    await registry.registerStream(rec('keep', 'backup', 2), 5000);
    await service.switchChannel('live', 'keep', 'backup');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await registry.getActiveRole('live', 'keep'), 'backup');

    elector.leader = false;
    await service.createChannel('live', 'follower', { backup: true });
    await registry.registerStream(rec('follower', 'backup', 2), 5000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await registry.getActiveRole('live', 'follower'), 'primary');
    elector.leader = true;
    await until('the leader acts', async () =>
      (await registry.getActiveRole('live', 'follower')) === 'backup' ? true : undefined,
    );
  });

  it('a deposed leader (lower fencing token) cannot switch', async () => {
    await service.createChannel('live', 'fence', { backup: true });
    await registry.setActiveRole('live', 'other', 'primary', 'raise the fence', {
      fence: { name: 'test', token: 99 },
    });
    await registry.registerStream(rec('fence', 'backup', 2), 5000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await registry.getActiveRole('live', 'fence'), 'primary');
  });
});
