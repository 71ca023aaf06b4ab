import assert from 'node:assert/strict';
import { createDecipheriv } from 'node:crypto';
import { describe, it } from 'node:test';
import { MediaError } from '../errors.ts';
import {
  decryptSegmentAes128,
  encryptSegmentAes128,
  keyTag,
  newAes128Iv,
  newAes128Key,
  type SegmentEncryption,
} from './encryption.ts';
import { renderMediaPlaylist } from './playlist.ts';
import type { HlsSegment } from './segmenter.ts';

const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const IV = Buffer.from('f0e0d0c0b0a090807060504030201000', 'hex');

describe('AES-128 segment encryption', () => {
  it('AES-128-CBC with PKCS#7: 1-16 bytes of padding, a multiple of 16, decrypts back (also with OpenSSL directly)', () => {
    for (const n of [0, 1, 15, 16, 17, 188, 188 * 7]) {
      const plain = Buffer.alloc(n, 0x47);
      const enc = encryptSegmentAes128(plain, KEY, IV);
      assert.equal(enc.length % 16, 0);
      assert.equal(enc.length, (Math.floor(n / 16) + 1) * 16, `${n} bytes`);
      assert.ok(!enc.subarray(0, Math.min(16, n)).equals(plain.subarray(0, Math.min(16, n))) || n === 0);
      assert.deepEqual(decryptSegmentAes128(enc, KEY, IV), plain);
      const d = createDecipheriv('aes-128-cbc', KEY, IV);
      d.setAutoPadding(false);
      const raw = Buffer.concat([d.update(enc), d.final()]);
      const pad = raw.at(-1)!;
      assert.ok(pad >= 1 && pad <= 16);
      assert.ok(
        raw.subarray(raw.length - pad).every((b) => b === pad),
        'PKCS#7 padding bytes',
      );
    }
  });

  it('the IV matters, keys and IVs are random and 16 bytes, wrong sizes and keys are MediaErrors', () => {
    const plain = Buffer.alloc(188 * 3, 0x47);
    const a = encryptSegmentAes128(plain, KEY, IV);
    const b = encryptSegmentAes128(plain, KEY, Buffer.alloc(16));
    assert.ok(!a.equals(b));
    assert.equal(newAes128Key().length, 16);
    assert.equal(newAes128Iv().length, 16);
    assert.ok(!newAes128Key().equals(newAes128Key()));
    assert.throws(() => encryptSegmentAes128(plain, Buffer.alloc(15), IV), MediaError);
    assert.throws(() => encryptSegmentAes128(plain, KEY, Buffer.alloc(8)), MediaError);
    const wrongKey = Buffer.from(KEY);
    wrongKey[0]! ^= 1;
    assert.throws(() => decryptSegmentAes128(a, wrongKey, IV), MediaError);
  });

  it('EXT-X-KEY lines: AES-128 with a quoted URI and a 0x IV, METHOD=NONE, URIs that could break out refused', () => {
    assert.equal(
      keyTag({ keyUri: 'keys/7?expires=1&sig=ab', iv: IV }),
      '#EXT-X-KEY:METHOD=AES-128,URI="keys/7?expires=1&sig=ab",IV=0xf0e0d0c0b0a090807060504030201000',
    );
    assert.equal(keyTag(undefined), '#EXT-X-KEY:METHOD=NONE');
    for (const keyUri of ['k"x', 'k\nx', 'k\rx'])
      assert.throws(() => keyTag({ keyUri, iv: IV }), { code: 'RC_TS_INVALID_INPUT' });
    assert.throws(() => keyTag({ keyUri: 'k', iv: Buffer.alloc(4) }), MediaError);
  });

  it('the playlist puts an EXT-X-KEY before each encrypted segment, and METHOD=NONE where encryption stops (golden)', () => {
    const seg = (sequence: number, discontinuity = false): HlsSegment => ({
      sequence,
      durationMs: 1000,
      discontinuity,
      data: Buffer.alloc(0),
      programDateTime: Date.UTC(2026, 0, 1, 0, 0, sequence),
      hasKeyframeStart: true,
      byteLength: 0,
    });
    const iv = (n: number) => Buffer.from(n.toString(16).padStart(32, '0'), 'hex');
    const enc = new Map<number, SegmentEncryption>([
      [1, { keyUri: 'keys/0', iv: iv(1) }],
      [2, { keyUri: 'keys/1', iv: iv(2) }],
      [4, { keyUri: 'keys/1', iv: iv(4) }],
    ]);
    const text = renderMediaPlaylist([seg(1), seg(2), seg(3), seg(4, true), seg(5)], 1, 0, {
      segmentUri: (s) => `s${s.sequence}.ts`,
      ended: false,
      targetDurationSeconds: 2,
      encryptionFor: (s) => enc.get(s.sequence),
    });
    assert.equal(
      text,
      `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:1
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:01.000Z
#EXT-X-KEY:METHOD=AES-128,URI="keys/0",IV=0x00000000000000000000000000000001
#EXTINF:1.000,
s1.ts
#EXT-X-KEY:METHOD=AES-128,URI="keys/1",IV=0x00000000000000000000000000000002
#EXTINF:1.000,
s2.ts
#EXT-X-KEY:METHOD=NONE
#EXTINF:1.000,
s3.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:04.000Z
#EXT-X-KEY:METHOD=AES-128,URI="keys/1",IV=0x00000000000000000000000000000004
#EXTINF:1.000,
s4.ts
#EXT-X-KEY:METHOD=NONE
#EXTINF:1.000,
s5.ts
`,
    );
    // no encryption at all: no EXT-X-KEY line
    const clear = renderMediaPlaylist([seg(1), seg(2)], 1, 0, {
      segmentUri: (s) => `s${s.sequence}.ts`,
      ended: false,
      targetDurationSeconds: 2,
      encryptionFor: () => undefined,
    });
    assert.doesNotMatch(clear, /EXT-X-KEY/);
  });
});
