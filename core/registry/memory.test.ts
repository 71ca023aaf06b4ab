import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type ChannelStore, JsonFileChannelStore } from './channel-store.ts';
import { runRegistryContract } from './contract.ts';
import { MemoryRegistry } from './memory.ts';
import type { ChannelRecord } from './types.ts';

runRegistryContract('memory', async () => {
  const registry = new MemoryRegistry();
  await registry.start();
  // In one process "another client" is the same store.
  return { registry, peer: registry, cleanup: () => registry.close() };
});

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rc-store-'));
  dirs.push(d);
  return d;
}

// The same contract with channels persisted: the store must not change any semantics.
runRegistryContract('memory with a channel file', async () => {
  const registry = new MemoryRegistry({ store: new JsonFileChannelStore(tempDir()) });
  await registry.start();
  return { registry, peer: registry, cleanup: () => registry.close() };
});

const channel = (name: string, extra: Partial<ChannelRecord> = {}): ChannelRecord => ({
  app: 'live',
  name,
  keyHash: `hash-${name}`,
  createdAt: 1_700_000_000_000,
  failover: { autoRevert: true, revertAfterMs: 10_000, noMediaTimeoutMs: 3000 },
  ...extra,
});

describe('MemoryRegistry with a JsonFileChannelStore', () => {
  it('channels and their key index survive a restart; deletes too', async () => {
    const dir = join(tempDir(), 'data'); // created on first start
    const first = new MemoryRegistry({ store: new JsonFileChannelStore(dir) });
    await first.start();
    await first.putChannel(channel('tv1', { backupKeyHash: 'hash-tv1-backup' }));
    await first.putChannel(channel('tv2'));
    await first.deleteChannel('live', 'tv2');
    await first.close();

    const second = new MemoryRegistry({ store: new JsonFileChannelStore(dir) });
    await second.start();
    assert.deepEqual(
      (await second.listChannels()).map((c) => c.name),
      ['tv1'],
    );
    assert.deepEqual(await second.findChannelByKeyHash('hash-tv1-backup'), {
      channel: channel('tv1', { backupKeyHash: 'hash-tv1-backup' }),
      role: 'backup',
    });
    assert.equal((await second.findChannelByKeyHash('hash-tv1'))?.role, 'primary');
    assert.equal(await second.findChannelByKeyHash('hash-tv2'), undefined);
    await second.close();
    // only hashes are stored, and no temp file is left behind
    assert.deepEqual(readdirSync(dir), ['channels.json']);
    assert.match(readFileSync(join(dir, 'channels.json'), 'utf8'), /"keyHash": "hash-tv1"/);
  });

  it('keeps fields it does not know (room for source/forward settings)', async () => {
    const dir = tempDir();
    const r1 = new MemoryRegistry({ store: new JsonFileChannelStore(dir) });
    await r1.start();
    await r1.putChannel({ ...channel('tv3'), source: { url: 'udp://239.0.0.1:5000' } } as ChannelRecord);
    const r2 = new MemoryRegistry({ store: new JsonFileChannelStore(dir) });
    await r2.start();
    assert.deepEqual(((await r2.getChannel('live', 'tv3')) as unknown as { source: unknown }).source, {
      url: 'udp://239.0.0.1:5000',
    });
  });

  it('a failed save leaves the registry as it was and throws', async () => {
    let fail = false;
    const saved: string[][] = [];
    const store: ChannelStore = {
      load: () => [],
      save: (cs) => {
        if (fail) throw new Error('disk full');
        saved.push(cs.map((c) => c.name));
      },
    };
    const r = new MemoryRegistry({ store });
    await r.start();
    await r.putChannel(channel('a'));
    fail = true;
    await assert.rejects(r.putChannel(channel('a', { keyHash: 'new-hash' })), /disk full/);
    await assert.rejects(r.putChannel(channel('b')), /disk full/);
    await assert.rejects(r.deleteChannel('live', 'a'), /disk full/);
    assert.deepEqual(
      (await r.listChannels()).map((c) => [c.name, c.keyHash]),
      [['a', 'hash-a']],
    );
    assert.equal((await r.findChannelByKeyHash('hash-a'))?.channel.name, 'a');
    assert.equal(await r.findChannelByKeyHash('new-hash'), undefined);
    assert.deepEqual(saved, [['a']]);
  });

  it('a damaged file is a clear start-up error, not an empty registry', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'channels.json'), '{"version":1,"channels":[{"app":"live"');
    const r = new MemoryRegistry({ store: new JsonFileChannelStore(dir) });
    await assert.rejects(r.start(), (e: unknown) => {
      const err = e as { code?: string; message: string };
      return (
        err.code === 'RC_CONFIG_INVALID' && /channels\.json is not valid JSON.*move it away/.test(err.message)
      );
    });
  });
});
