/**
 * One behavioural contract for every Registry implementation (memory and Redis run the same
 * suite). Timing is generous: leases of 1 s are polled for up to 5 s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashStreamKey } from './keys.ts';
import type { Registry } from './registry.ts';
import type { ForwardStatus, RegistryEvent, StreamRecord } from './types.ts';

export interface RegistryFixture {
  registry: Registry;
  /** A second client of the same store (Redis: another connection), for cross-node events. */
  peer: Registry;
  cleanup(): Promise<void>;
}

async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let counter = 0;
function rec(
  name: string,
  generation: number,
  extra: Partial<StreamRecord> = {},
): Omit<StreamRecord, 'updatedAt'> {
  return {
    app: 'live',
    name,
    originNodeId: 'origin-a',
    originUrl: 'http://127.0.0.1:8081',
    sessionId: `s${++counter}`,
    generation,
    startedAt: Date.now(),
    ...extra,
  };
}

export function runRegistryContract(label: string, make: () => Promise<RegistryFixture>): void {
  describe(`Registry contract: ${label}`, { timeout: 120_000 }, () => {
    let f: RegistryFixture;
    let r: Registry;
    const events: RegistryEvent[] = [];
    before(async () => {
      f = await make();
      r = f.registry;
      f.peer.on('event', (e: RegistryEvent) => events.push(e));
    });
    after(async () => {
      await f.cleanup();
    });

    it('generations strictly increase and are never reused', async () => {
      const a = await r.nextGeneration('live', 'gen');
      const b = await r.nextGeneration('live', 'gen');
      const c = await f.peer.nextGeneration('live', 'gen');
      assert.ok(a < b && b < c);
    });

    it('a newer generation takes over; older or equal ones from other sessions are refused', async () => {
      const g1 = await r.nextGeneration('live', 'take');
      const first = rec('take', g1);
      assert.deepEqual(await r.registerStream(first, 10_000), { ok: true });
      const g2 = await r.nextGeneration('live', 'take');
      const second = rec('take', g2, { originNodeId: 'origin-b' });
      const res = await r.registerStream(second, 10_000);
      assert.equal(res.ok, true);
      assert.equal(res.ok && res.previous?.originNodeId, 'origin-a');
      const moved = await eventually('stream-moved', () =>
        events.find((e) => e.type === 'stream-moved' && e.stream.name === 'take'),
      );
      assert.equal(moved.type === 'stream-moved' && moved.previousOriginNodeId, 'origin-a');
      const stale = await r.registerStream(rec('take', g1), 10_000);
      assert.equal(stale.ok, false);
      assert.equal(!stale.ok && stale.current.generation, g2);
      const sameGenOtherSession = await r.registerStream(rec('take', g2), 10_000);
      assert.equal(sameGenOtherSession.ok, false);
      // the same session may re-register (after a Redis restart wiped the record)
      assert.equal((await r.registerStream(second, 10_000)).ok, true);
      assert.equal((await r.getStream('live', 'take'))?.originNodeId, 'origin-b');
    });

    it('renew is fenced by generation; unregister only with the right generation', async () => {
      const g = await r.nextGeneration('live', 'renew');
      await r.registerStream(rec('renew', g), 10_000);
      assert.equal(await r.renewStream('live', 'renew', g - 1, 10_000), false);
      assert.equal(
        await r.renewStream('live', 'renew', g, 10_000, {
          bitrateKbps: 2650,
          codecs: { video: { codec: 'h264', width: 640 } },
        }),
        true,
      );
      const got = await r.getStream('live', 'renew');
      assert.equal(got?.bitrateKbps, 2650);
      assert.equal(got?.codecs?.video?.width, 640);
      assert.equal(await r.unregisterStream('live', 'renew', g + 1, 'test'), false);
      assert.equal(await r.unregisterStream('live', 'renew', g, 'test'), true);
      assert.equal(await r.getStream('live', 'renew'), undefined);
      await eventually('stream-down', () =>
        events.find((e) => e.type === 'stream-down' && e.name === 'renew'),
      );
      assert.equal(await r.renewStream('live', 'renew', g, 10_000), false);
    });

    it('registering restores the generation counter (after a store that lost its data)', async () => {
      await r.registerStream(rec('restored', 41), 10_000);
      assert.ok((await r.nextGeneration('live', 'restored')) > 41);
    });

    it('a lease that is not renewed expires', async () => {
      const g = await r.nextGeneration('live', 'lease');
      await r.registerStream(rec('lease', g), 1000);
      assert.ok(await r.getStream('live', 'lease'));
      await eventually(
        'lease expiry',
        async () => ((await r.getStream('live', 'lease')) ? undefined : true),
        5000,
      );
    });

    it('primary and backup records coexist; listStreams sees 200 streams', async () => {
      const g = await r.nextGeneration('live', 'pb');
      await r.registerStream(rec('pb', g), 10_000);
      const gb = await r.nextGeneration('live', 'pb~backup');
      await r.registerStream(rec('pb', gb, { role: 'backup', originNodeId: 'origin-b' }), 10_000);
      assert.equal((await r.getStream('live', 'pb'))?.originNodeId, 'origin-a');
      assert.equal((await r.getStream('live', 'pb', 'backup'))?.originNodeId, 'origin-b');
      await Promise.all(Array.from({ length: 200 }, (_, i) => r.registerStream(rec(`many${i}`, 1), 10_000)));
      const all = await r.listStreams();
      assert.ok(all.filter((s) => s.name.startsWith('many')).length === 200);
    });

    it('node heartbeats list and expire', async () => {
      const node = {
        id: 'edge-x',
        role: 'edge' as const,
        advertiseHost: '127.0.0.1',
        load: { streams: 1, viewers: 10, egressMbps: 26.5, ingressMbps: 2.6 },
        draining: false,
        startedAt: Date.now(),
        version: 'test',
      };
      await r.heartbeatNode(node, 1000);
      assert.equal((await f.peer.listNodes()).find((n) => n.id === 'edge-x')?.load.viewers, 10);
      await eventually('node expiry', async () =>
        (await r.listNodes()).some((n) => n.id === 'edge-x') ? undefined : true,
      );
      await r.heartbeatNode(node, 10_000);
      await r.removeNode('edge-x');
      assert.equal(
        (await r.listNodes()).some((n) => n.id === 'edge-x'),
        false,
      );
    });

    it('channels: put, find by key hash (primary/backup), key change and delete clean the index', async () => {
      const ch = {
        app: 'live',
        name: 'studio',
        keyHash: hashStreamKey('k1'),
        backupKeyHash: hashStreamKey('b1'),
        createdAt: Date.now(),
        failover: { autoRevert: true, revertAfterMs: 5000, noMediaTimeoutMs: 2000 },
      };
      assert.equal(await r.putChannel(ch, { onlyIfAbsent: true }), true);
      assert.equal(await r.putChannel(ch, { onlyIfAbsent: true }), false);
      assert.equal((await r.findChannelByKeyHash(hashStreamKey('k1')))?.role, 'primary');
      assert.equal((await r.findChannelByKeyHash(hashStreamKey('b1')))?.role, 'backup');
      await r.putChannel({ ...ch, keyHash: hashStreamKey('k2') });
      assert.equal(await r.findChannelByKeyHash(hashStreamKey('k1')), undefined, 'old key no longer works');
      assert.equal((await r.findChannelByKeyHash(hashStreamKey('k2')))?.channel.name, 'studio');
      assert.ok((await r.listChannels()).some((c) => c.name === 'studio'));
      assert.equal(await r.deleteChannel('live', 'studio'), true);
      assert.equal(await r.findChannelByKeyHash(hashStreamKey('k2')), undefined);
      assert.equal(await r.findChannelByKeyHash(hashStreamKey('b1')), undefined);
      assert.equal(await r.deleteChannel('live', 'studio'), false);
    });

    it('channels: a source (url, interface) is stored and read back as written', async () => {
      const ch = {
        app: 'live',
        name: 'tv1',
        keyHash: hashStreamKey('k-tv1'),
        createdAt: Date.now(),
        failover: { autoRevert: true, revertAfterMs: 5000, noMediaTimeoutMs: 2000 },
        source: { url: 'udp://239.1.1.1:5000?source=10.0.0.9', interfaceAddress: '10.0.0.5' },
      };
      await r.putChannel(ch);
      assert.deepEqual(await f.peer.getChannel('live', 'tv1'), ch);
      assert.deepEqual((await r.listChannels()).find((c) => c.name === 'tv1')?.source, ch.source);
      await r.deleteChannel('live', 'tv1');
    });

    it('active role defaults to primary; a switch is stored and announced', async () => {
      assert.equal(await r.getActiveRole('live', 'route'), 'primary');
      await r.setActiveRole('live', 'route', 'backup', 'primary-lost');
      assert.equal(await f.peer.getActiveRole('live', 'route'), 'backup');
      const e = await eventually('route-changed', () =>
        events.find((x) => x.type === 'route-changed' && x.name === 'route'),
      );
      assert.equal(e.type === 'route-changed' && e.reason, 'primary-lost');
      const history = await f.peer.listSwitches('live', 'route');
      assert.equal(history.length, 1);
      assert.deepEqual(
        { from: history[0]!.from, to: history[0]!.to, reason: history[0]!.reason, by: history[0]!.by },
        { from: 'primary', to: 'backup', reason: 'primary-lost', by: 'admin' },
      );
    });

    it('a fenced switch with a lower token than one already seen is refused', async () => {
      const fence = (token: number) => ({ fence: { name: 'cp', token }, by: `leader-${token}` });
      assert.equal(await r.setActiveRole('live', 'fenced', 'backup', 'a', fence(5)), true);
      assert.equal(await f.peer.setActiveRole('live', 'fenced', 'primary', 'stale', fence(4)), false);
      assert.equal(await r.getActiveRole('live', 'fenced'), 'backup');
      assert.equal(await f.peer.setActiveRole('live', 'fenced', 'primary', 'b', fence(6)), true);
      assert.equal(await r.getActiveRole('live', 'fenced'), 'primary');
      const history = await r.listSwitches('live', 'fenced');
      assert.deepEqual(
        history.map((h) => [h.from, h.to, h.by]),
        [
          ['backup', 'primary', 'leader-6'],
          ['primary', 'backup', 'leader-5'],
        ],
      );
    });

    it('locks are exclusive, renewable by the holder, and fence with a rising token', async () => {
      const a = await r.tryAcquireLock('leader', 'a', 1000);
      assert.equal(a.acquired, true);
      const b = await f.peer.tryAcquireLock('leader', 'b', 1000);
      assert.equal(b.acquired, false);
      assert.equal(b.holder, 'a');
      assert.equal(await r.renewLock('leader', 'a', a.token, 1000), true);
      assert.equal(await f.peer.renewLock('leader', 'b', a.token, 1000), false);
      const b2 = await eventually('lock expiry', async () => {
        const t = await f.peer.tryAcquireLock('leader', 'b', 5000);
        return t.acquired ? t : undefined;
      });
      assert.ok(b2.token > a.token, 'fencing token rises');
      assert.equal(await r.renewLock('leader', 'a', a.token, 1000), false);
      await f.peer.releaseLock('leader', 'b', b2.token);
      assert.equal((await r.tryAcquireLock('leader', 'a', 1000)).acquired, true);
    });

    it('forward status: any client reads what the forwarding node stored, until the TTL passes', async () => {
      const status: ForwardStatus[] = [
        {
          id: 'f1',
          url: 'rtmp://a.example/live/***',
          state: 'live',
          since: 1,
          bytesSent: 10,
          reconnects: 0,
          skips: 0,
          nodeId: 'o1',
          role: 'primary',
        },
      ];
      assert.deepEqual(await f.peer.getForwardStatus('live', 'fw'), []);
      await r.putForwardStatus('live', 'fw', status, 300);
      assert.deepEqual(await f.peer.getForwardStatus('live', 'fw'), status);
      await eventually('the status to expire', async () =>
        (await f.peer.getForwardStatus('live', 'fw')).length === 0 ? true : undefined,
      );
    });

    it('source assignments persist until replaced or removed; source status expires', async () => {
      assert.equal(await f.peer.getSourceAssignment('live', 'tv'), undefined);
      await r.putSourceAssignment('live', 'tv', { nodeId: 'o1', at: 5, reason: 'new' });
      assert.deepEqual(await f.peer.getSourceAssignment('live', 'tv'), {
        nodeId: 'o1',
        at: 5,
        reason: 'new',
      });
      await r.putSourceAssignment('live', 'tv', undefined);
      assert.equal(await f.peer.getSourceAssignment('live', 'tv'), undefined);
      const st = {
        nodeId: 'o1',
        state: 'receiving',
        bitrateKbps: 900,
        ccErrors: 1,
        packets: 10,
        lastPacketAt: 7,
        silentSince: 0,
      };
      await r.putSourceStatus('live', 'tv', st, 300);
      assert.deepEqual(await f.peer.getSourceStatus('live', 'tv'), st);
      await eventually('the status to expire', async () =>
        (await f.peer.getSourceStatus('live', 'tv')) === undefined ? true : undefined,
      );
    });

    it('HLS keys: any client reads what one stored, per stream and id, until the TTL passes', async () => {
      const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
      await r.putHlsKey('live', 'enc', '17', key, 1000);
      assert.deepEqual(await f.peer.getHlsKey('live', 'enc', '17'), key);
      assert.equal(await f.peer.getHlsKey('live', 'enc', '18'), undefined);
      assert.equal(await f.peer.getHlsKey('live', 'other', '17'), undefined);
      await r.putHlsKey('live', 'enc', '18', Buffer.alloc(16, 7), 60_000);
      await eventually('the key to expire', async () =>
        (await f.peer.getHlsKey('live', 'enc', '17')) === undefined ? true : undefined,
      );
      assert.deepEqual(await r.getHlsKey('live', 'enc', '18'), Buffer.alloc(16, 7));
    });

    it('published events reach other clients', async () => {
      await r.publish({ type: 'kick', app: 'live', name: 'k', reason: 'admin' });
      await eventually('kick', () => events.find((e) => e.type === 'kick' && e.name === 'k'));
    });
  });
}
