/**
 * HLS segment encryption, METHOD=AES-128 (RFC 8216 5.2): the whole segment is encrypted with
 * AES-128-CBC and PKCS#7 padding, under a 16-byte key the player fetches from the EXT-X-KEY URI,
 * with an explicit 16-byte IV per segment (carried in the playlist's IV attribute).
 *
 * Only the media layer: which key a segment uses, where keys are kept and who may fetch them is
 * the server's business (the key URI is opaque here).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { MediaError } from '../errors.ts';

export const AES_128_KEY_BYTES = 16;
export const AES_128_IV_BYTES = 16;

/** A segment's encryption as the playlist announces it. */
export interface SegmentEncryption {
  /** EXT-X-KEY URI, e.g. `keys/17?expires=…&sig=…`. Must not contain `"`, CR or LF. */
  keyUri: string;
  /** The explicit IV, 16 bytes. */
  iv: Buffer;
}

function checkSizes(key: Buffer, iv: Buffer): void {
  if (key.length !== AES_128_KEY_BYTES)
    throw new MediaError('RC_TS_INVALID_INPUT', `AES-128 key must be 16 bytes, got ${key.length}`);
  if (iv.length !== AES_128_IV_BYTES)
    throw new MediaError('RC_TS_INVALID_INPUT', `AES-128 IV must be 16 bytes, got ${iv.length}`);
}

/** A fresh random key (16 bytes, from the CSPRNG). */
export function newAes128Key(): Buffer {
  return randomBytes(AES_128_KEY_BYTES);
}

/** A fresh random IV for one segment. */
export function newAes128Iv(): Buffer {
  return randomBytes(AES_128_IV_BYTES);
}

/** AES-128-CBC with PKCS#7 padding (RFC 8216 4.3.2.4): the output is 1-16 bytes longer, a multiple of 16. */
export function encryptSegmentAes128(data: Buffer, key: Buffer, iv: Buffer): Buffer {
  checkSizes(key, iv);
  const cipher = createCipheriv('aes-128-cbc', key, iv); // autoPadding = PKCS#7
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

/** The inverse; throws MediaError when the key, IV or padding is wrong. */
export function decryptSegmentAes128(data: Buffer, key: Buffer, iv: Buffer): Buffer {
  checkSizes(key, iv);
  try {
    const decipher = createDecipheriv('aes-128-cbc', key, iv);
    return Buffer.concat([decipher.update(data), decipher.final()]);
  } catch (cause) {
    throw new MediaError('RC_TS_INVALID_INPUT', 'segment does not decrypt with this key and IV', { cause });
  }
}

/**
 * The EXT-X-KEY line (RFC 8216 4.3.2.4) for a segment: METHOD=AES-128 with a quoted URI and the
 * IV as a 0x-prefixed hexadecimal-sequence, or METHOD=NONE.
 */
export function keyTag(enc: SegmentEncryption | undefined): string {
  if (!enc) return '#EXT-X-KEY:METHOD=NONE';
  if (/["\r\n]/.test(enc.keyUri))
    throw new MediaError('RC_TS_INVALID_INPUT', 'an EXT-X-KEY URI must not contain a quote or a line break');
  if (enc.iv.length !== AES_128_IV_BYTES)
    throw new MediaError('RC_TS_INVALID_INPUT', `AES-128 IV must be 16 bytes, got ${enc.iv.length}`);
  return `#EXT-X-KEY:METHOD=AES-128,URI="${enc.keyUri}",IV=0x${enc.iv.toString('hex')}`;
}
