import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MediaError } from '../errors.ts';
import { fuA, H264Packetizer, packetizeAccessUnit, rtpTimestamp90k, stapA } from './h264.ts';

const hex = (b: Buffer) => b.toString('hex');
const SPS = Buffer.from('6742c01e95a0a0fd00', 'hex'); // NRI 3, type 7, profile 66 (0x42), flags 0xc0, level 30
const PPS = Buffer.from('68ce3c80', 'hex'); // NRI 3, type 8

/** AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.2.4.1) with one SPS and one PPS. */
function avcRecord(sps: Buffer, pps: Buffer, lengthSize = 4): Buffer {
  return Buffer.concat([
    Buffer.from([1, sps[1]!, sps[2]!, sps[3]!, 0xfc | (lengthSize - 1), 0xe1]),
    Buffer.from([sps.length >> 8, sps.length & 0xff]),
    sps,
    Buffer.from([1, pps.length >> 8, pps.length & 0xff]),
    pps,
  ]);
}

/** AVCC access unit: each NAL unit behind a big-endian length prefix. */
function avcc(nalus: Buffer[], lengthSize = 4): Buffer {
  return Buffer.concat(
    nalus.flatMap((n) => {
      const len = Buffer.alloc(lengthSize);
      len.writeUIntBE(n.length, 0, lengthSize);
      return [len, n];
    }),
  );
}

describe('H.264 RTP payloads (RFC 6184)', () => {
  it('aggregates SPS and PPS in a STAP-A with the highest NRI (5.7.1)', () => {
    const low = Buffer.from([0x21, 0xaa]); // NRI 1, type 1
    assert.equal(hex(stapA([SPS, PPS])), `78 0009 ${hex(SPS)} 0004 ${hex(PPS)}`.replace(/ /g, ''));
    assert.equal(hex(stapA([low, Buffer.from([0x41, 0xbb])])), '580002' + '21aa' + '0002' + '41bb');
  });

  it('fragments a large NAL unit with FU-A, S and E bits on the ends (5.8)', () => {
    const nal = Buffer.from([0x65, 1, 2, 3, 4, 5, 6, 7]); // NRI 3, type 5 (IDR), 7 payload bytes
    const frags = fuA(nal, 5); // 3 payload bytes per fragment
    assert.deepEqual(frags.map(hex), ['7c85010203', '7c05040506', '7c4507']);
  });

  it('sends small units whole and marks the last payload of the access unit', () => {
    const a = Buffer.from([0x06, 0x05, 0x01]); // SEI
    const b = Buffer.from([0x41, 9, 9, 9, 9, 9]); // non-IDR slice, 6 bytes > budget 4
    const out = packetizeAccessUnit([a, b], 4);
    assert.deepEqual(
      out.map((p) => [hex(p.payload), p.marker]),
      [
        ['060501', false],
        ['5c810909', false],
        ['5c010909', false],
        ['5c4109', true],
      ],
    );
  });

  it('puts SPS+PPS before each IDR, drops AUD, keeps order, and needs the config first', () => {
    const p = new H264Packetizer(1100);
    const idr = Buffer.concat([Buffer.from([0x65]), Buffer.alloc(2500, 0x11)]);
    const aud = Buffer.from([0x09, 0xf0]);
    const flvHeader = Buffer.from([0x17, 1, 0, 0, 0]);
    assert.throws(() => p.packetize(Buffer.concat([flvHeader, avcc([idr])]), 5), MediaError);
    p.setConfig(avcRecord(SPS, PPS));
    assert.equal(p.profileLevelId, '42c01e');
    const out = p.packetize(Buffer.concat([flvHeader, avcc([aud, idr])]), 5);
    assert.equal(hex(out[0]!.payload), hex(stapA([SPS, PPS])));
    // 2500 payload bytes after the NAL header, 1098 per fragment: 3 fragments
    assert.equal(out.length, 4);
    assert.deepEqual(
      out.slice(1).map((o) => [o.payload[0], o.payload[1], o.payload.length, o.marker]),
      [
        [0x7c, 0x85, 1100, false],
        [0x7c, 0x05, 1100, false],
        [0x7c, 0x45, 2 + 2500 - 2 * 1098, true],
      ],
    );
    // Reassembling the fragments gives the NAL unit back byte for byte.
    const rebuilt = Buffer.concat([Buffer.from([0x65]), ...out.slice(1).map((o) => o.payload.subarray(2))]);
    assert.equal(hex(rebuilt), hex(idr));
    // A P-frame goes without parameter sets; a frame that carries its own SPS/PPS gets no STAP-A.
    const pSlice = Buffer.from([0x41, 0x9a, 0x02]);
    assert.deepEqual(
      p.packetize(avcc([pSlice]), 0).map((o) => [hex(o.payload), o.marker]),
      [['419a02', true]],
    );
    const inband = p.packetize(avcc([SPS, PPS, Buffer.from([0x65, 0x88])]), 0);
    assert.deepEqual(
      inband.map((o) => hex(o.payload)),
      [hex(SPS), hex(PPS), '6588'],
    );
  });

  it('reads 2-byte NAL length prefixes and rejects truncated frames with a typed error', () => {
    const p = new H264Packetizer();
    p.setConfig(avcRecord(SPS, PPS, 2));
    assert.deepEqual(
      p.packetize(avcc([Buffer.from([0x41, 1])], 2), 0).map((o) => hex(o.payload)),
      ['4101'],
    );
    assert.throws(() => p.packetize(Buffer.from([0, 9, 0x41]), 0), MediaError);
    assert.throws(() => p.packetize(Buffer.from([0]), 0), MediaError);
    assert.deepEqual(p.packetize(Buffer.alloc(0), 0), []);
  });

  it('maps milliseconds to a wrapping 90 kHz clock', () => {
    assert.equal(rtpTimestamp90k(1000), 90_000);
    assert.equal(rtpTimestamp90k(0x100000000 / 90 + 1), 90);
  });
});
