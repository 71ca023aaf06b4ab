import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it, mock } from 'node:test';
import { createLogger } from '../core/log.ts';
import { createMetrics } from '../core/metrics.ts';
import { resolveUnder } from '../core/paths.ts';
import { MemoryRegistry } from '../core/registry/memory.ts';
import { decryptSegmentAes128 } from '../media/hls/encryption.ts';
import {
  aacFrame,
  aacSequenceHeader,
  avcFrame,
  avcSequenceHeader,
  avStream,
  frameTs,
} from '../media/hls/fixtures.ts';
import { StreamHub } from '../media/hub/hub.ts';
import type { MediaTag } from '../media/tag.ts';
import { HlsPackager } from './hls.ts';

const T0 = 1_800_000_000_000;
const work = mkdtempSync(join(tmpdir(), 'relaycast-origin-hls-'));
after(() => rmSync(work, { recursive: true, force: true }));

function setup(dir?: string, registry?: MemoryRegistry, byDefault = true) {
  const hub = new StreamHub({ republishWaitMs: 1 });
  const metrics = createMetrics({ role: 'origin', nodeId: 'o', version: 't', maxStreams: 10 });
  const hls = new HlsPackager(
    hub,
    {
      targetDurationMs: 1000,
      maxSegmentDurationMs: 2000,
      windowSegments: 3,
      maxWindowBytes: 64 * 1024 * 1024,
      dir,
      keepEndedMs: 1,
      firstSegmentWaitMs: 10,
      ...(registry ? { encryption: { rotationSegments: 2, keys: registry, byDefault } } : {}),
    },
    metrics,
    createLogger('silent'),
  );
  return { hub, hls };
}

/** Publishes `tags` with the (mocked) wall clock following their timestamps; `each` runs after every tag. */
function publish(
  hub: StreamHub,
  app: string,
  name: string,
  tags: MediaTag[],
  each?: (t: MediaTag) => void,
  hlsEncryption?: 'none' | 'aes-128',
) {
  const pub = hub
    .ensure(app, name)
    .attach({ sessionId: `${app}/${name}`, kind: 'test', ...(hlsEncryption ? { hlsEncryption } : {}) });
  for (const t of tags) {
    mock.timers.setTime(T0 + t.timestamp);
    pub.pushTag(t.type, t.timestamp, t.data);
    each?.(t);
  }
  return pub;
}

const until = async (what: string, check: () => boolean) => {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
};

describe('HlsPackager', () => {
  beforeEach(() => mock.timers.enable({ apis: ['Date'], now: T0 }));
  afterEach(() => mock.timers.reset());

  it('EXT-X-TARGETDURATION stays the same while the GOP grows from 1 s to 7 s; every EXTINF fits it', async () => {
    const { hub, hls } = setup();
    const tags: MediaTag[] = [avcSequenceHeader(0), aacSequenceHeader(0)];
    let nextKey = 0;
    for (let i = 0; frameTs(i) < 24_000; i++) {
      const ts = frameTs(i);
      const key = ts >= nextKey;
      if (key) nextKey = ts + (ts < 4000 ? 1000 : 7000);
      tags.push(avcFrame(ts, key), aacFrame(ts));
    }
    const playlists: string[] = [];
    let lastSeq = -1;
    const pending: Promise<void>[] = [];
    publish(hub, 'live', 'gop', tags, () => {
      const d = hls.describe('live', 'gop');
      if (!d || d.segments === 0 || d.mediaSequence + d.segments === lastSeq) return;
      lastSeq = d.mediaSequence + d.segments;
      pending.push(
        hls.playlist('live', 'gop', '').then((p) => {
          if (p) playlists.push(p.body);
        }),
      );
    });
    await Promise.all(pending);
    const targets = new Set(playlists.map((p) => Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(p)![1])));
    assert.deepEqual([...targets], [2]);
    assert.ok(playlists.length >= 10, `${playlists.length} playlists`);
    for (const p of playlists)
      for (const m of p.matchAll(/#EXTINF:([\d.]+),/g)) assert.ok(Math.round(Number(m[1])) <= 2, p);
  });

  it('RFC 8216 6.2.2: a segment that left the playlist is still served for its duration plus the playlist', async () => {
    const { hub, hls } = setup();
    publish(hub, 'live', 'ret', avStream({ seconds: 10, gop: 30 }));
    const d = hls.describe('live', 'ret')!;
    const playlist = (await hls.playlist('live', 'ret', ''))!.body;
    const dropped = d.mediaSequence - 1;
    assert.doesNotMatch(playlist, new RegExp(`ret-${dropped}\\.ts`));
    // dropped one segment (1 s) ago, 3 s playlists: still there for about 3 more seconds
    assert.ok(await hls.segment('live', 'ret', `ret-${dropped}.ts`));
    mock.timers.setTime(Date.now() + 2500);
    assert.ok(await hls.segment('live', 'ret', `ret-${dropped}.ts`));
    mock.timers.setTime(Date.now() + 2000);
    assert.equal(await hls.segment('live', 'ret', `ret-${dropped}.ts`), undefined);
    // segments still in the window are unaffected
    assert.ok(await hls.segment('live', 'ret', `ret-${d.mediaSequence}.ts`));
  });

  it('--hls-dir: old segment files are deleted once their retention is over, the directory when the stream is forgotten', async () => {
    const root = join(work, 'prune');
    const { hub, hls } = setup(root);
    const dir = join(root, 'live', 'long');
    let maxFiles = 0;
    const pub = publish(hub, 'live', 'long', avStream({ seconds: 40, gop: 30 }), () => {
      if (existsSync(dir))
        maxFiles = Math.max(maxFiles, readdirSync(dir).filter((f) => f.endsWith('.ts')).length);
    });
    const d = hls.describe('live', 'long')!;
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    // 3 in the window + about 4 s of retired 1 s segments, not the 40 written
    assert.ok(maxFiles <= 9, `${maxFiles} segment files at most`);
    assert.ok(!files.includes(`long-${d.mediaSequence - 10}.ts`));
    for (let q = d.mediaSequence; q < d.mediaSequence + d.segments; q++)
      assert.ok(files.includes(`long-${q}.ts`));
    assert.ok(existsSync(join(dir, 'long.m3u8')));
    pub.close('unpublish');
    await until('the stream directory removed', () => !existsSync(dir));
    assert.ok(existsSync(root));
  });

  it('never writes or deletes outside --hls-dir, even for a name that slipped past validation', async () => {
    const root = join(work, 'contained', 'hls');
    mkdirSync(root, { recursive: true });
    const victim = join(work, 'contained', 'victim');
    mkdirSync(victim, { recursive: true });
    writeFileSync(join(victim, 'keep.txt'), 'precious');
    const { hub, hls } = setup(root);
    const pub = publish(hub, '..', 'victim', avStream({ seconds: 4, gop: 30 }));
    assert.ok(hls.describe('..', 'victim'), 'still packaged in memory');
    assert.deepEqual(readdirSync(victim), ['keep.txt']);
    pub.close('unpublish');
    await until('the stream forgotten', () => hls.describe('..', 'victim') === undefined);
    assert.ok(existsSync(join(victim, 'keep.txt')));
  });
});

describe('HlsPackager with AES-128', () => {
  beforeEach(() => mock.timers.enable({ apis: ['Date'], now: T0 }));
  afterEach(() => mock.timers.reset());

  it('encrypts every segment once; the playlist names key ids stored in the registry and each IV; keys rotate every 2 segments', async () => {
    const registry = new MemoryRegistry();
    const { hub, hls } = setup(undefined, registry);
    publish(hub, 'live', 'enc', avStream({ seconds: 8, gop: 30 }));
    const body = (await hls.playlist('live', 'enc', '?expires=1&sig=ab'))!.body;
    const entries = [
      ...body.matchAll(
        /#EXT-X-KEY:METHOD=AES-128,URI="enc\/keys\/(\d+)\?expires=1&sig=ab",IV=0x([0-9a-f]{32})\n#EXTINF:[\d.]+,\nenc-(\d+)\.ts/g,
      ),
    ];
    assert.equal(entries.length, 3, body);
    const perKey = new Map<string, number>();
    for (const [, id, iv, seq] of entries) {
      perKey.set(id!, (perKey.get(id!) ?? 0) + 1);
      const key = await hls.key('live', 'enc', id!);
      assert.ok(key, `key ${id} stored`);
      const data = (await hls.segment('live', 'enc', `enc-${seq}.ts`))!;
      assert.notEqual(data[0], 0x47);
      const clear = decryptSegmentAes128(data, key, Buffer.from(iv!, 'hex'));
      assert.equal(clear[0], 0x47, 'decrypts to MPEG-TS');
      assert.equal(clear.length % 188, 0);
    }
    assert.ok([...perKey.values()].every((n) => n <= 2));
    assert.ok(perKey.size >= 2, 'rotated');
    assert.equal(await hls.key('live', 'enc', '12345'), undefined);
  });

  it("a channel's own setting wins over the node's: aes-128 on a plain node, none on an encrypting one", async () => {
    const keyLines = (body: string) => body.split('\n').filter((l) => l.startsWith('#EXT-X-KEY:'));
    const plainNode = setup(undefined, new MemoryRegistry(), false);
    publish(plainNode.hub, 'live', 'secret', avStream({ seconds: 5, gop: 30 }), undefined, 'aes-128');
    publish(plainNode.hub, 'live', 'open', avStream({ seconds: 5, gop: 30 }));
    const secret = (await plainNode.hls.playlist('live', 'secret', ''))!.body;
    assert.ok(keyLines(secret).length >= 1, secret);
    assert.ok(keyLines(secret).every((l) => l.startsWith('#EXT-X-KEY:METHOD=AES-128,')));
    assert.deepEqual(keyLines((await plainNode.hls.playlist('live', 'open', ''))!.body), []);
    const encNode = setup(undefined, new MemoryRegistry(), true);
    publish(encNode.hub, 'live', 'public', avStream({ seconds: 5, gop: 30 }), undefined, 'none');
    publish(encNode.hub, 'live', 'other', avStream({ seconds: 5, gop: 30 }));
    assert.deepEqual(keyLines((await encNode.hls.playlist('live', 'public', ''))!.body), []);
    const seg = (await encNode.hls.playlist('live', 'public', ''))!.body
      .split('\n')
      .find((l) => l.endsWith('.ts'))!;
    assert.equal((await encNode.hls.segment('live', 'public', seg))![0], 0x47, 'a clear segment is MPEG-TS');
    assert.ok(keyLines((await encNode.hls.playlist('live', 'other', ''))!.body).length >= 1);
  });
});

describe('resolveUnder', () => {
  it('accepts paths strictly inside the root and refuses everything else', () => {
    assert.equal(resolveUnder('/srv/hls', 'live', 'a'), '/srv/hls/live/a');
    assert.equal(resolveUnder('/srv/hls/', 'live', 'a-1.ts'), '/srv/hls/live/a-1.ts');
    assert.equal(resolveUnder('/srv/hls', 'a..b'), '/srv/hls/a..b');
    for (const parts of [
      ['..'],
      ['..', 'x'],
      ['live', '..', '..'],
      ['/etc'],
      ['.'],
      [''],
      ['live/../../x'],
      ['..hls'],
    ])
      if (parts[0] === '..hls') assert.equal(resolveUnder('/srv/hls', ...parts), '/srv/hls/..hls');
      else
        assert.throws(() => resolveUnder('/srv/hls', ...parts), { code: 'RC_NAME_INVALID' }, parts.join('/'));
  });
});
