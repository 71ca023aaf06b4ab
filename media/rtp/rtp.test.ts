import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRtp, RtpReorderer } from './rtp.ts';

function rtp(
  seq: number,
  payload: number,
  opts: { pt?: number; ssrc?: number; csrc?: number; pad?: number } = {},
): Buffer {
  const csrc = opts.csrc ?? 0;
  const h = Buffer.alloc(12 + 4 * csrc);
  h[0] = 0x80 | (opts.pad ? 0x20 : 0) | csrc;
  h[1] = opts.pt ?? 33;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE(seq * 3000, 4);
  h.writeUInt32BE(opts.ssrc ?? 0x1234, 8);
  const pad = opts.pad
    ? Buffer.concat([Buffer.alloc(opts.pad - 1), Buffer.from([opts.pad])])
    : Buffer.alloc(0);
  return Buffer.concat([h, Buffer.from([payload]), pad]);
}
const ids = (bufs: Buffer[]) => bufs.map((b) => b[0]);

describe('RTP (RFC 3550) carrying MPEG-TS (RFC 2250)', () => {
  it('parses the header with CSRCs and padding', () => {
    const p = parseRtp(rtp(7, 0xab, { csrc: 2, pad: 3 }))!;
    assert.deepEqual(
      [p.payloadType, p.sequenceNumber, p.timestamp, p.ssrc, p.payload.toString('hex')],
      [33, 7, 21000, 0x1234, 'ab'],
    );
    assert.equal(parseRtp(Buffer.from([0x40, 33, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), undefined); // version 1
    assert.equal(parseRtp(Buffer.alloc(5)), undefined);
  });

  it('passes packets in order, puts swapped ones back, drops late duplicates', () => {
    const r = new RtpReorderer(4);
    const out = [1, 2, 4, 3, 5, 5, 6].flatMap((s) => r.push(rtp(s, s)));
    assert.deepEqual(ids(out), [1, 2, 3, 4, 5, 6]);
    assert.equal(r.stats.late, 1);
    assert.equal(r.stats.lost, 0);
  });

  it('crosses the 16-bit wrap', () => {
    const r = new RtpReorderer(4);
    const out = [65534, 0, 65535, 1].flatMap((s) => r.push(rtp(s, s & 0xff)));
    assert.deepEqual(ids(out), [0xfe, 0xff, 0, 1]);
  });

  it('gives up on a lost packet once the window is full and counts it', () => {
    const r = new RtpReorderer(3);
    const out = [1, 3, 4, 5, 6, 7].flatMap((s) => r.push(rtp(s, s)));
    assert.deepEqual(ids(out), [1, 3, 4, 5, 6, 7]);
    assert.equal(r.stats.lost, 1);
    assert.deepEqual(r.push(rtp(2, 2)), []); // too late now
    assert.equal(r.stats.late, 1);
  });

  it('follows a sender restart (new SSRC, or a far jump) and refuses other payload types', () => {
    const r = new RtpReorderer(4);
    r.push(rtp(100, 1));
    assert.deepEqual(ids(r.push(rtp(9, 2, { ssrc: 99 }))), [2]);
    assert.deepEqual(ids(r.push(rtp(30000, 3, { ssrc: 99 }))), [3]);
    assert.equal(r.stats.resets, 2);
    assert.deepEqual(r.push(rtp(30001, 4, { pt: 96, ssrc: 99 })), []);
    assert.equal(r.stats.wrongPayloadType, 1);
  });
});
