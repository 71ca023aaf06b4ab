import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  ProtectionProfileAeadAes128Gcm,
  ProtectionProfileAes128CmHmacSha1_80,
  RtpHeader,
  SrtcpSession,
  SrtpSession,
} from 'werift';
import { useKeyObjects } from './srtp-keys.ts';

describe('SRTP keys as KeyObjects (werift ciphers)', () => {
  for (const [name, profile, keyLength, saltLength] of [
    ['AES_CM_128_HMAC_SHA1_80', ProtectionProfileAes128CmHmacSha1_80, 16, 14],
    ['AEAD_AES_128_GCM', ProtectionProfileAeadAes128Gcm, 16, 12],
  ] as const) {
    it(`${name}: SRTP and SRTCP bytes are unchanged, and the peer decrypts them`, () => {
      const local = { key: randomBytes(keyLength), salt: randomBytes(saltLength) };
      const remote = { key: randomBytes(keyLength), salt: randomBytes(saltLength) };
      const config = {
        keys: {
          localMasterKey: local.key,
          localMasterSalt: local.salt,
          remoteMasterKey: remote.key,
          remoteMasterSalt: remote.salt,
        },
        profile,
      };
      const peerConfig = {
        keys: {
          localMasterKey: remote.key,
          localMasterSalt: remote.salt,
          remoteMasterKey: local.key,
          remoteMasterSalt: local.salt,
        },
        profile,
      };
      const plain = new SrtpSession(config);
      const fast = new SrtpSession(config);
      const plainRtcp = new SrtcpSession(config);
      const fastRtcp = new SrtcpSession(config);
      // local and remote context, each with its session keys (SRTP and SRTCP; auth keys for CM)
      const replaced = useKeyObjects([fast, fastRtcp]);
      assert.equal(replaced, profile === ProtectionProfileAes128CmHmacSha1_80 ? 16 : 8);
      assert.equal(useKeyObjects([fast, fastRtcp]), 0, 'a second call finds nothing left to do');
      const peer = new SrtpSession(peerConfig);
      const peerRtcp = new SrtcpSession(peerConfig);
      useKeyObjects([peer, peerRtcp]);

      for (let i = 0; i < 5; i++) {
        const payload = randomBytes(200 + i * 250);
        const header = () =>
          new RtpHeader({
            payloadType: 102,
            sequenceNumber: (65533 + i) & 0xffff,
            timestamp: 1000 * i,
            ssrc: 0x1234,
            marker: i === 4,
          });
        const a = plain.encrypt(payload, header());
        const b = fast.encrypt(payload, header());
        assert.equal(b.toString('hex'), a.toString('hex'), `packet ${i}`);
        assert.equal(peer.decrypt(b).subarray(-payload.length).toString('hex'), payload.toString('hex'));
      }
      // a receiver report (RFC 3550 6.4.2): header, reporter SSRC, no blocks
      const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0x12, 0x34]);
      const ea = plainRtcp.encrypt(rr);
      const eb = fastRtcp.encrypt(rr);
      assert.equal(eb.toString('hex'), ea.toString('hex'));
      assert.equal(peerRtcp.decrypt(eb).toString('hex'), rr.toString('hex'));
    });
  }
});
