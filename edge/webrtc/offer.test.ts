import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import { RelaycastError } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import { checkOffer } from './offer.ts';
import {
  rewriteAnswer,
  type SessionTransport,
  stunLocalUfrag,
  stunType,
  type TransportAddress,
  UdpMux,
} from './udp-mux.ts';

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

/** An RFC 8489 Binding request whose USERNAME is "<ufrag>:browser". */
function bindingRequest(ufrag: string): Buffer {
  const username = Buffer.from(`${ufrag}:browser`);
  const attr = Buffer.alloc(4 + Math.ceil(username.length / 4) * 4);
  attr.writeUInt16BE(0x0006, 0);
  attr.writeUInt16BE(username.length, 2);
  username.copy(attr, 4);
  const head = Buffer.alloc(20);
  head.writeUInt16BE(0x0001, 0);
  head.writeUInt16BE(attr.length, 2);
  head.writeUInt32BE(0x2112a442, 4);
  return Buffer.concat([head, attr]);
}

const ANSWER = (ufrag: string, port: number) =>
  [
    'v=0',
    'm=video 9 UDP/TLS/RTP/SAVPF 102',
    'c=IN IP4 127.0.0.1',
    `a=ice-ufrag:${ufrag}`,
    'a=ice-pwd:pw',
    `a=candidate:1 1 udp 2130706431 127.0.0.1 ${port} typ host`,
    '',
  ].join('\r\n');

describe('UDP mux: STUN handling (RFC 8489) and the answer rewrite', () => {
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

describe("UDP mux: one port, datagrams to and from each session's transport", () => {
  it('binds a browser address on a check naming a session, delivers its datagrams, sends only back to it', async () => {
    const mux = new UdpMux(createLogger('silent'));
    const port = await mux.listen(0, '127.0.0.1');
    const browser = createSocket('udp4');
    const stranger = createSocket('udp4');
    await Promise.all([browser, stranger].map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', r))));
    const got: { data: Buffer; addr: TransportAddress }[] = [];
    const transport: SessionTransport = {
      port: 45678,
      send: async () => assert.fail('replaced by the mux'),
      onData: (data, addr) => got.push({ data, addr }),
    };
    const session = { id: 's1', closed: false };
    try {
      assert.throws(() => mux.register(session, ANSWER('uf1', 45679), '203.0.113.7', [transport]), /45679/);
      const sdp = mux.register(session, ANSWER('uf1', 45678), '203.0.113.7', [transport]);
      assert.match(sdp, new RegExp(`a=candidate:1 1 udp 2130706431 203.0.113.7 ${port} typ host`));
      const received: Buffer[] = [];
      browser.on('message', (m) => received.push(m));
      const send = (s: ReturnType<typeof createSocket>, m: Buffer) =>
        new Promise<void>((r) => s.send(m, port, '127.0.0.1', () => r()));
      const settle = async (what: string, done: () => boolean) => {
        for (let i = 0; i < 100 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
        assert.ok(done(), what);
      };

      await send(browser, Buffer.from('dtls before any check')); // unknown address, not a check
      await send(browser, bindingRequest('nobody')); // a check for no session
      await settle('both dropped', () => mux.dropped === 2);
      assert.equal(got.length, 0);

      const check = bindingRequest('uf1');
      await send(browser, check);
      await settle('the check reached the transport', () => got.length === 1);
      const from: TransportAddress = ['127.0.0.1', browser.address().port];
      assert.deepEqual(got[0], { data: check, addr: from });
      assert.equal(mux.remoteCount, 1);
      await send(browser, Buffer.from([0x16, 0xfe, 0xfd, 1, 2, 3])); // DTLS from the bound address
      await settle('DTLS reached the transport', () => got.length === 2);

      await transport.send(Buffer.from('answer'), from);
      await transport.send(Buffer.from('to the bound address'));
      await settle('the browser got both', () => received.length === 2);
      assert.deepEqual(received.map(String), ['answer', 'to the bound address']);
      await transport.send(Buffer.from('reflect'), ['127.0.0.1', stranger.address().port]);
      assert.equal(mux.refused, 1, 'never sent where no check came from');

      mux.unregister(session);
      assert.equal(mux.remoteCount, 0);
      await send(browser, Buffer.from([0x16, 0xfe, 0xfd, 4]));
      await settle('dropped after unregister', () => mux.dropped === 3);
      assert.equal(got.length, 2);
    } finally {
      browser.close();
      stranger.close();
      await mux.close();
    }
  });
});
