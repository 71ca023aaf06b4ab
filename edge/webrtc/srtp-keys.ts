/**
 * SRTP session keys as KeyObjects. werift encrypts every RTP packet with a fresh
 * createCipheriv(…, key, iv) (a new IV per packet, RFC 3711 4.1.1 / RFC 7714 8.1), and it keeps
 * the session keys as Buffers. Node (24) checks a key argument against KeyObject and CryptoKey
 * before it takes a Buffer, and that check is most of the call: 12.7 µs per 1100-byte AES-128-GCM
 * packet with a Buffer key against 4.7 µs with a KeyObject on this box. A profile of 50 WHEP viewers
 * had 29 % of the node's busy time in those checks alone.
 *
 * werift has no option for this, so once a session's DTLS is up (its SRTP contexts exist) the keys
 * on its ciphers are replaced by KeyObjects of the same bytes: what is sent is byte for byte the
 * same (srtp-keys.test.ts). The objects are werift 0.25's RTCDtlsTransport.srtp/.srtcp
 * {local,remote}Context.cipher; a werift that moved them is left as it is (slower, not wrong).
 */
import { createSecretKey } from 'node:crypto';

const KEY_FIELDS = ['srtpSessionKey', 'srtcpSessionKey', 'srtpSessionAuthTag', 'srtcpSessionAuthTag'];

type Loose = Record<string, unknown> | undefined;

/** Replaces the Buffer keys of the ciphers of werift SRTP/SRTCP sessions; returns how many. */
export function useKeyObjects(sessions: unknown[]): number {
  let n = 0;
  for (const session of sessions) {
    for (const side of ['localContext', 'remoteContext']) {
      const cipher = ((session as Loose)?.[side] as Loose)?.cipher as Loose;
      if (!cipher) continue;
      for (const field of KEY_FIELDS) {
        const key = cipher[field];
        if (Buffer.isBuffer(key) && key.length > 0) {
          cipher[field] = createSecretKey(key);
          n++;
        }
      }
    }
  }
  return n;
}

/** The SRTP and SRTCP sessions of a werift RTCPeerConnection's DTLS transports. */
export function srtpSessionsOf(pc: unknown): unknown[] {
  const transports = (pc as { dtlsTransports?: unknown[] }).dtlsTransports ?? [];
  return transports.flatMap((t) => [(t as Loose)?.srtp, (t as Loose)?.srtcp]).filter(Boolean);
}
