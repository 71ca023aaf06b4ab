import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { MediaError } from '../errors.ts';
import {
  ClientHandshake,
  digestOffset,
  findDigest,
  HANDSHAKE_KEYS,
  HANDSHAKE_SIZE,
  ServerHandshake,
} from './handshake.ts';

function simpleC0C1(): Buffer {
  const c1 = Buffer.alloc(HANDSHAKE_SIZE);
  for (let i = 8; i < HANDSHAKE_SIZE; i++) c1[i] = (i * 7) & 0xff; // time 0, zero 0, pattern
  return Buffer.concat([Buffer.from([3]), c1]);
}

describe('RTMP handshake', () => {
  it('simple: S0 = 3, S1 has a zero version, S2 echoes C1; C2 completes it and the rest is returned', () => {
    const hs = new ServerHandshake();
    const c0c1 = simpleC0C1();
    const step = hs.push(c0c1);
    assert.equal(hs.mode, 'simple');
    assert.equal(step.done, false);
    const reply = step.reply!;
    assert.equal(reply.length, 1 + 2 * HANDSHAKE_SIZE);
    assert.equal(reply[0], 3);
    assert.equal(reply.readUInt32BE(5), 0);
    assert.deepEqual(reply.subarray(1 + HANDSHAKE_SIZE), c0c1.subarray(1));
    const done = hs.push(Buffer.concat([reply.subarray(1, 1 + HANDSHAKE_SIZE), Buffer.from([0x02, 0xaa])]));
    assert.equal(done.done, true);
    assert.deepEqual(done.rest, Buffer.from([0x02, 0xaa]));
  });

  it('gives the same result fed one byte at a time', () => {
    const hs = new ServerHandshake();
    const input = Buffer.concat([simpleC0C1(), Buffer.alloc(HANDSHAKE_SIZE, 1)]);
    let replies = 0;
    let done = false;
    for (let i = 0; i < input.length; i++) {
      const s = hs.push(input.subarray(i, i + 1));
      if (s.reply) replies++;
      if (s.done) {
        done = true;
        assert.equal(i, input.length - 1, 'done exactly on the last byte of C2');
      }
    }
    assert.equal(replies, 1);
    assert.ok(done);
  });

  it('refuses versions other than 3', () => {
    const hs = new ServerHandshake();
    assert.throws(
      () => hs.push(Buffer.from([6])),
      (e: unknown) => e instanceof MediaError && e.code === 'RC_RTMP_BAD_VERSION',
    );
  });

  it('digest (FP9 "complex"): the server recognises a digest C1 and signs S1 and S2 with the FMS keys', () => {
    const client = new ClientHandshake({ digest: true });
    const c0c1 = client.start();
    const c1 = c0c1.subarray(1);
    const clientDigest = findDigest(c1, HANDSHAKE_KEYS.GENUINE_FP);
    assert.ok(clientDigest, 'client C1 carries a valid digest');
    const server = new ServerHandshake();
    const reply = server.push(c0c1).reply!;
    assert.equal(server.mode, 'digest');
    const s1 = reply.subarray(1, 1 + HANDSHAKE_SIZE);
    const s2 = reply.subarray(1 + HANDSHAKE_SIZE);
    const s1Digest = findDigest(s1, HANDSHAKE_KEYS.GENUINE_FMS);
    assert.ok(s1Digest, 'S1 digest verifies with the FMS key');
    assert.equal(s1Digest.schema, clientDigest.schema, 'same schema as the client');
    // S2: last 32 bytes = HMAC(HMAC(FMS full key, client digest), first 1504 bytes)
    const key = createHmac('sha256', HANDSHAKE_KEYS.GENUINE_FMS_FULL).update(clientDigest.digest).digest();
    const sig = createHmac('sha256', key)
      .update(s2.subarray(0, HANDSHAKE_SIZE - 32))
      .digest();
    assert.deepEqual(s2.subarray(HANDSHAKE_SIZE - 32), sig);
    const fin = client.push(reply);
    assert.equal(fin.done, true);
    assert.equal(fin.reply?.length, HANDSHAKE_SIZE);
  });

  it('digest offsets follow schema 0 (base 772) and schema 1 (base 8)', () => {
    const b = Buffer.alloc(HANDSHAKE_SIZE);
    b.set([1, 2, 3, 4], 8);
    b.set([100, 100, 100, 100], 772);
    assert.equal(digestOffset(b, 1), 8 + 4 + 10);
    assert.equal(digestOffset(b, 0), 772 + 4 + (400 % 728));
  });
});
