import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { RelaycastError } from '../../core/errors.ts';
import { checkOffer } from './offer.ts';
import { rewriteAnswer, rewriteMappedAddress, stunLocalUfrag, stunType } from './udp-mux.ts';

const OFFER = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 102',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:0123456789012345678901',
  'a=fingerprint:sha-256 AA:BB',
  'a=recvonly',
  'a=rtpmap:96 VP8/90000',
  'a=rtpmap:102 H264/90000',
  'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:0123456789012345678901',
  'a=fingerprint:sha-256 AA:BB',
  'a=rtpmap:111 opus/48000/2',
  '',
].join('\r\n');

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof RelaycastError ? err.code : 'other';
  }
  return 'none';
};

describe('WHEP offer checks', () => {
  it('accepts a browser-shaped offer and says what it carries', () => {
    assert.deepEqual(checkOffer(OFFER), { video: true, audio: true, opus: true });
  });

  it('refuses non-SDP, sections without ICE or DTLS, and offers without usable H.264', () => {
    assert.equal(
      code(() => checkOffer('hello')),
      'RC_WEBRTC_SDP_INVALID',
    );
    assert.equal(
      code(() => checkOffer('v=0\r\ns=-\r\n')),
      'RC_WEBRTC_SDP_INVALID',
    );
    assert.equal(
      code(() => checkOffer(OFFER.replace('a=ice-pwd:', 'a=x-pwd:'))),
      'RC_WEBRTC_SDP_INVALID',
    );
    assert.equal(
      code(() => checkOffer(OFFER.replace('a=fingerprint:', 'a=x:'))),
      'RC_WEBRTC_SDP_INVALID',
    );
    assert.equal(
      code(() => checkOffer(OFFER.replace('not an sdp', '').replace('s=-', 'garbage line'))),
      'RC_WEBRTC_SDP_INVALID',
    );
    // packetization-mode 0 cannot carry frames larger than one packet (no FU-A)
    assert.equal(
      code(() => checkOffer(OFFER.replace('packetization-mode=1', 'packetization-mode=0'))),
      'RC_WEBRTC_CODEC_UNSUPPORTED',
    );
    assert.equal(
      code(() => checkOffer(OFFER.replace('H264/90000', 'AV1/90000'))),
      'RC_WEBRTC_CODEC_UNSUPPORTED',
    );
    const audioOnly = OFFER.replace(/m=video[\s\S]*?(?=m=audio)/, '');
    assert.equal(
      code(() => checkOffer(audioOnly)),
      'RC_WEBRTC_CODEC_UNSUPPORTED',
    );
  });
});

/** RFC 8489 Binding success response with XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT. */
function bindingResponse(ip: number[], port: number, pwd: string): Buffer {
  const tx = Buffer.alloc(12, 7);
  const xma = Buffer.alloc(12);
  xma.writeUInt16BE(0x0020, 0);
  xma.writeUInt16BE(8, 2);
  xma[5] = 0x01;
  xma.writeUInt16BE(port ^ 0x2112, 6);
  xma.writeUInt32BE((((ip[0]! << 24) | (ip[1]! << 16) | (ip[2]! << 8) | ip[3]!) ^ 0x2112a442) >>> 0, 8);
  const head = Buffer.alloc(20);
  head.writeUInt16BE(0x0101, 0);
  head.writeUInt32BE(0x2112a442, 4);
  tx.copy(head, 8);
  let msg = Buffer.concat([head, xma]);
  msg.writeUInt16BE(msg.length - 20 + 24, 2);
  const mi = Buffer.alloc(24);
  mi.writeUInt16BE(0x0008, 0);
  mi.writeUInt16BE(20, 2);
  createHmac('sha1', pwd).update(msg).digest().copy(mi, 4);
  msg = Buffer.concat([msg, mi]);
  msg.writeUInt16BE(msg.length - 20 + 8, 2);
  const fp = Buffer.alloc(8);
  fp.writeUInt16BE(0x8028, 0);
  fp.writeUInt16BE(4, 2);
  fp.writeUInt32BE((crc32(msg) ^ 0x5354554e) >>> 0, 4);
  return Buffer.concat([msg, fp]);
}

describe('UDP mux: STUN handling (RFC 8489) and the answer rewrite', () => {
  it('rewrites XOR-MAPPED-ADDRESS and re-signs the response byte for byte like a fresh one', () => {
    const pwd = 'server-ice-password-xx';
    const fromRelay = bindingResponse([127, 0, 0, 1], 40000, pwd);
    const expected = bindingResponse([192, 168, 1, 20], 54321, pwd);
    assert.equal(stunType(fromRelay), 0x0101);
    const out = rewriteMappedAddress(fromRelay, '192.168.1.20', 54321, pwd)!;
    assert.equal(out.toString('hex'), expected.toString('hex'));
    assert.equal(rewriteMappedAddress(fromRelay, '::1', 1, pwd), undefined);
  });

  it('reads our ufrag from USERNAME and ignores what is not STUN', () => {
    const username = Buffer.from('srvufrag:browser');
    const attr = Buffer.alloc(4 + 16);
    attr.writeUInt16BE(0x0006, 0);
    attr.writeUInt16BE(username.length, 2);
    username.copy(attr, 4);
    const head = Buffer.alloc(20);
    head.writeUInt16BE(0x0001, 0);
    head.writeUInt16BE(attr.length, 2);
    head.writeUInt32BE(0x2112a442, 4);
    const req = Buffer.concat([head, attr]);
    assert.equal(stunType(req), 0x0001);
    assert.equal(stunLocalUfrag(req), 'srvufrag');
    assert.equal(stunType(Buffer.from([0x16, 0xfe, 0xfd, ...Buffer.alloc(30)])), undefined); // DTLS
    assert.equal(stunType(req.subarray(0, 30)), undefined); // length field disagrees
  });

  it('replaces the candidates of an answer with the shared port', () => {
    const answer = [
      'v=0',
      'm=video 40000 UDP/TLS/RTP/SAVPF 102',
      'c=IN IP4 10.0.0.5',
      'a=ice-ufrag:srv',
      'a=ice-pwd:pw',
      'a=candidate:1 1 udp 2130706431 10.0.0.5 40001 typ host',
      'a=candidate:2 1 udp 2130706431 127.0.0.1 40002 typ host',
      'a=end-of-candidates',
      '',
    ].join('\r\n');
    const r = rewriteAnswer(answer, '203.0.113.7', 8189);
    assert.equal(r.weriftPort, 40002);
    assert.equal(r.ufrag, 'srv');
    assert.equal(r.pwd, 'pw');
    assert.equal(
      r.sdp,
      [
        'v=0',
        'm=video 8189 UDP/TLS/RTP/SAVPF 102',
        'c=IN IP4 203.0.113.7',
        'a=ice-ufrag:srv',
        'a=ice-pwd:pw',
        'a=candidate:1 1 udp 2130706431 203.0.113.7 8189 typ host',
        'a=end-of-candidates',
        '',
      ].join('\r\n'),
    );
  });
});
