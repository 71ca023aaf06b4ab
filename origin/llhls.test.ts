import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../core/log.ts';
import { createMetrics } from '../core/metrics.ts';
import { MemoryRegistry } from '../core/registry/memory.ts';
import { decryptSegmentAes128 } from '../media/hls/encryption.ts';
import { avStream } from '../media/hls/fixtures.ts';
import { validateLlPlaylist } from '../media/hls/ll-validate.ts';
import { StreamHub } from '../media/hub/hub.ts';
import { LlHlsPackager } from './llhls.ts';

function setup(registry: MemoryRegistry, byDefault: boolean, firstPartWaitMs = 10) {
  const hub = new StreamHub({ republishWaitMs: 1 });
  const metrics = createMetrics({ role: 'origin', nodeId: 'o', version: 't', maxStreams: 10 });
  const llhls = new LlHlsPackager(
    hub,
    {
      partTargetMs: 333,
      segmentTargetMs: 1000,
      windowSegments: 4,
      keepEndedMs: 1,
      firstPartWaitMs,
      encryption: { rotationSegments: 2, keys: registry, byDefault },
    },
    metrics,
    createLogger('silent'),
  );
  return { hub, llhls };
}

function publish(hub: StreamHub, name: string, seconds: number, hlsEncryption?: 'none' | 'aes-128') {
  const pub = hub
    .ensure('live', name)
    .attach({ sessionId: name, kind: 'test', ...(hlsEncryption ? { hlsEncryption } : {}) });
  for (const t of avStream({ seconds, gop: 30 })) pub.pushTag(t.type, t.timestamp, t.data);
  return pub;
}

const REQ = { uriPrefix: '', segmentQuery: '?sig=s', blocking: undefined };

interface KeyLine {
  id: string;
  iv: Buffer;
}

/** Each part and segment URI of the playlist with the EXT-X-KEY in effect for it. */
function keyedUris(text: string): { uri: string; key: KeyLine | undefined }[] {
  let key: KeyLine | undefined;
  const out: { uri: string; key: KeyLine | undefined }[] = [];
  for (const line of text.split('\n')) {
    const k = /^#EXT-X-KEY:METHOD=(AES-128|NONE)(?:,URI="keys\/([^"?]+)\?sig=s",IV=0x([0-9a-f]{32}))?$/.exec(
      line,
    );
    if (line.startsWith('#EXT-X-KEY:')) {
      assert.ok(k, line);
      key = k[1] === 'NONE' ? undefined : { id: k[2]!, iv: Buffer.from(k[3]!, 'hex') };
    }
    const part = /^#EXT-X-PART:.*URI="([^"?]+)/.exec(line);
    if (part) out.push({ uri: part[1]!, key });
    if (line && !line.startsWith('#')) out.push({ uri: line.split('?')[0]!, key });
    if (line.startsWith('#EXT-X-MAP:')) assert.equal(key, undefined, 'no key in effect at an init segment');
  }
  return out;
}

describe('LlHlsPackager AES-128', () => {
  it('parts and whole segments are encrypted under their segment key and IV, init segments stay clear, keys rotate every 2 segments', async () => {
    const registry = new MemoryRegistry();
    const { hub, llhls } = setup(registry, true);
    publish(hub, 'enc', 6);
    const pl = await llhls.playlist('live', 'enc', REQ);
    assert.ok(pl);
    assert.deepEqual(validateLlPlaylist(pl.body).problems, []);
    const uris = keyedUris(pl.body);
    assert.ok(uris.length > 8, pl.body);
    const ids = new Set<string>();
    for (const { uri, key } of uris) {
      assert.ok(key, `${uri} is under a key`);
      assert.match(key.id, /^l\d+$/);
      ids.add(key.id);
      const media = await llhls.media('live', 'enc', uri);
      assert.ok(media, uri);
      const stored = await registry.getHlsKey('live', 'enc', key.id);
      assert.ok(stored, `key ${key.id} stored`);
      const clear = decryptSegmentAes128(media.data, stored, key.iv);
      // A part or segment is moof+mdat fragments; styp is not written.
      assert.equal(clear.subarray(4, 8).toString('latin1'), 'moof', uri);
    }
    // 4 complete segments in the window + the open one at 2 per key: at least 3 keys.
    assert.ok(ids.size >= 3, [...ids].join());
    // A segment is the parts' clear bytes back to back, encrypted as one resource.
    const seg = uris.filter((u) => /^\d+\.m4s$/.test(u.uri)).at(-1)!; // the last has its parts listed
    const sequence = seg.uri.split('.')[0];
    const parts = uris.filter((u) => u.uri.startsWith(`${sequence}.`) && u.uri !== seg.uri);
    const key = (await registry.getHlsKey('live', 'enc', seg.key!.id))!;
    const clearParts = await Promise.all(
      parts.map(async (p) =>
        decryptSegmentAes128((await llhls.media('live', 'enc', p.uri))!.data, key, seg.key!.iv),
      ),
    );
    const whole = decryptSegmentAes128((await llhls.media('live', 'enc', seg.uri))!.data, key, seg.key!.iv);
    assert.ok(clearParts.length >= 2);
    assert.deepEqual(whole, Buffer.concat(clearParts));
    const init = /#EXT-X-MAP:URI="([^"?]+)/.exec(pl.body)![1]!;
    assert.equal((await llhls.media('live', 'enc', init))!.data.subarray(4, 8).toString('latin1'), 'ftyp');
    llhls.close();
  });

  it("a channel's own setting wins: none on an encrypting node stays clear, aes-128 on a plain node is encrypted", async () => {
    const registry = new MemoryRegistry();
    const plain = setup(registry, false);
    publish(plain.hub, 'paid', 3, 'aes-128');
    publish(plain.hub, 'free', 3);
    const paid = await plain.llhls.playlist('live', 'paid', REQ);
    const free = await plain.llhls.playlist('live', 'free', REQ);
    assert.match(paid!.body, /#EXT-X-KEY:METHOD=AES-128,URI="keys\/l\d+\?sig=s"/);
    assert.doesNotMatch(free!.body, /EXT-X-KEY/);
    const firstPart = /#EXT-X-PART:.*URI="([^"?]+)/.exec(free!.body)![1]!;
    assert.equal(
      (await plain.llhls.media('live', 'free', firstPart))!.data.subarray(4, 8).toString('latin1'),
      'moof',
    );
    plain.llhls.close();
    const encrypting = setup(registry, true);
    publish(encrypting.hub, 'open', 3, 'none');
    assert.doesNotMatch((await encrypting.llhls.playlist('live', 'open', REQ))!.body, /EXT-X-KEY/);
    encrypting.llhls.close();
  });
});

describe('LL-HLS playlist at the start of a stream', () => {
  it('a plain request waits for the first complete segment (a playlist of parts only is empty to hls.js); a blocking one for a part', async () => {
    const { hub, llhls } = setup(new MemoryRegistry(), false, 5000);
    const pub = hub.ensure('live', 'start').attach({ sessionId: 'start', kind: 'test' });
    const tags = [...avStream({ seconds: 3, gop: 30 })];
    // The first 0.5 s: parts of the first segment (target 1 s), no complete segment yet.
    const early = tags.filter((t) => t.timestamp < 500);
    for (const t of early) pub.pushTag(t.type, t.timestamp, t.data);
    let plain: string | undefined;
    const pending = llhls.playlist('live', 'start', REQ).then((p) => {
      plain = p?.body;
    });
    const blocking = await llhls.playlist('live', 'start', { ...REQ, blocking: { msn: 0, part: 0 } });
    assert.ok(blocking, 'a blocking reload for part 0 is answered at once');
    assert.match(blocking.body, /#EXT-X-PART:/);
    assert.doesNotMatch(blocking.body, /#EXTINF:/, 'while the first segment is still open');
    await new Promise((r) => setImmediate(r));
    assert.equal(plain, undefined, 'the plain request is still held');
    for (const t of tags.slice(early.length)) pub.pushTag(t.type, t.timestamp, t.data);
    await pending;
    assert.ok(plain, 'answered once a segment is complete');
    assert.match(plain, /#EXTINF:/);
    assert.deepEqual(validateLlPlaylist(plain).problems, []);
    llhls.close();
  });
});
