/**
 * RTMP handshake (Adobe RTMP spec 5.2) in both flavours:
 * - simple: C1/S1 = time(4) + zero(4) + random(1528); C2/S2 echo the peer's 1/S1.
 * - digest ("complex", Flash Player 9+): C1 carries an HMAC-SHA256 digest at an offset given by
 *   schema 0 (key block first) or schema 1 (digest block first); the server answers with its own
 *   digest in S1 and a signed S2. Some encoders and players refuse a server that cannot do it.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { MediaError } from '../errors.ts';

export const HANDSHAKE_SIZE = 1536;
const RTMP_VERSION = 3;

// The well-known keys from the Flash Player / Flash Media Server handshake (librtmp handshake.h).
const GENUINE_FP = Buffer.from('Genuine Adobe Flash Player 001', 'latin1'); // 30 bytes
const GENUINE_FMS = Buffer.from('Genuine Adobe Flash Media Server 001', 'latin1'); // 36 bytes
const KEY_SUFFIX = Buffer.from([
  0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57, 0x6e, 0xec,
  0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
]);
const GENUINE_FP_FULL = Buffer.concat([GENUINE_FP, KEY_SUFFIX]); // 62 bytes
const GENUINE_FMS_FULL = Buffer.concat([GENUINE_FMS, KEY_SUFFIX]); // 68 bytes

const SERVER_VERSION = 0x04050001;
const CLIENT_VERSION = 0x80000702;

export interface HandshakeStep {
  reply?: Buffer;
  done: boolean;
  rest?: Buffer;
}

function hmac(key: Buffer, ...data: Buffer[]): Buffer {
  const h = createHmac('sha256', key);
  for (const d of data) h.update(d);
  return h.digest();
}

/**
 * Offset of the 32-byte digest inside a 1536-byte C1/S1 for a schema: the 764-byte digest block
 * starts at 8 (schema 1) or 772 (schema 0); its first 4 bytes sum (mod 728) to the offset within it.
 */
export function digestOffset(block: Buffer, schema: 0 | 1): number {
  const base = schema === 1 ? 8 : 772;
  const sum = block[base]! + block[base + 1]! + block[base + 2]! + block[base + 3]!;
  return base + 4 + (sum % 728);
}

function computeDigest(block: Buffer, offset: number, key: Buffer): Buffer {
  return hmac(key, block.subarray(0, offset), block.subarray(offset + 32));
}

/** Returns the schema whose digest validates, or undefined. */
export function findDigest(block: Buffer, key: Buffer): { schema: 0 | 1; digest: Buffer } | undefined {
  for (const schema of [1, 0] as const) {
    const off = digestOffset(block, schema);
    const expected = computeDigest(block, off, key);
    if (expected.equals(block.subarray(off, off + 32))) return { schema, digest: expected };
  }
  return undefined;
}

function makeDigestBlock(version: number, schema: 0 | 1, key: Buffer): Buffer {
  const block = randomBytes(HANDSHAKE_SIZE);
  block.writeUInt32BE(Math.floor(performance.now()) >>> 0, 0);
  block.writeUInt32BE(version, 4);
  const off = digestOffset(block, schema);
  computeDigest(block, off, key).copy(block, off);
  return block;
}

/** Digest-mode answer (S2 or C2): random 1504 bytes + HMAC(HMAC(fullKey, peerDigest), random). */
function signedReply(fullKey: Buffer, peerDigest: Buffer): Buffer {
  const out = randomBytes(HANDSHAKE_SIZE);
  const key = hmac(fullKey, peerDigest);
  hmac(key, out.subarray(0, HANDSHAKE_SIZE - 32)).copy(out, HANDSHAKE_SIZE - 32);
  return out;
}

export class ServerHandshake {
  private buf: Buffer = Buffer.alloc(0);
  private state: 'c0c1' | 'c2' | 'done' = 'c0c1';
  mode: 'simple' | 'digest' | undefined;

  push(chunk: Buffer): HandshakeStep {
    if (this.state === 'done') return { done: true, rest: chunk };
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (this.state === 'c0c1') {
      if (this.buf.length >= 1 && this.buf[0] !== RTMP_VERSION)
        throw new MediaError(
          'RC_RTMP_BAD_VERSION',
          `RTMP: client asked for version ${this.buf[0]}, only 3 is served`,
        );
      if (this.buf.length < 1 + HANDSHAKE_SIZE) return { done: false };
      const c1 = this.buf.subarray(1, 1 + HANDSHAKE_SIZE);
      this.buf = this.buf.subarray(1 + HANDSHAKE_SIZE);
      const reply = this.answer(c1);
      this.state = 'c2';
      const after = this.consumeC2();
      return { ...after, reply };
    }
    return this.consumeC2();
  }

  private consumeC2(): HandshakeStep {
    if (this.buf.length < HANDSHAKE_SIZE) return { done: false };
    const rest = this.buf.subarray(HANDSHAKE_SIZE);
    this.buf = Buffer.alloc(0);
    this.state = 'done';
    return rest.length ? { done: true, rest } : { done: true };
  }

  private answer(c1: Buffer): Buffer {
    const s0 = Buffer.from([RTMP_VERSION]);
    const clientVersion = c1.readUInt32BE(4);
    const found = clientVersion !== 0 ? findDigest(c1, GENUINE_FP) : undefined;
    if (found) {
      this.mode = 'digest';
      const s1 = makeDigestBlock(SERVER_VERSION, found.schema, GENUINE_FMS);
      const s2 = signedReply(GENUINE_FMS_FULL, found.digest);
      return Buffer.concat([s0, s1, s2]);
    }
    this.mode = 'simple';
    const s1 = randomBytes(HANDSHAKE_SIZE);
    s1.writeUInt32BE(Math.floor(performance.now()) >>> 0, 0);
    s1.writeUInt32BE(0, 4);
    return Buffer.concat([s0, s1, c1]); // S2 echoes C1
  }
}

export class ClientHandshake {
  private readonly digest: boolean;
  private c1: Buffer | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(options?: { digest?: boolean }) {
    this.digest = options?.digest ?? false;
  }

  start(): Buffer {
    if (this.digest) this.c1 = makeDigestBlock(CLIENT_VERSION, 1, GENUINE_FP);
    else {
      this.c1 = randomBytes(HANDSHAKE_SIZE);
      this.c1.writeUInt32BE(0, 0);
      this.c1.writeUInt32BE(0, 4);
    }
    return Buffer.concat([Buffer.from([RTMP_VERSION]), this.c1]);
  }

  push(chunk: Buffer): HandshakeStep {
    if (this.done) return { done: true, rest: chunk };
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (this.buf.length >= 1 && this.buf[0] !== RTMP_VERSION)
      throw new MediaError('RC_RTMP_BAD_VERSION', `RTMP: server answered version ${this.buf[0]}`);
    if (this.buf.length < 1 + 2 * HANDSHAKE_SIZE) return { done: false };
    const s1 = this.buf.subarray(1, 1 + HANDSHAKE_SIZE);
    const rest = this.buf.subarray(1 + 2 * HANDSHAKE_SIZE);
    this.done = true;
    this.buf = Buffer.alloc(0);
    let c2: Buffer = Buffer.from(s1);
    if (this.digest) {
      const found = findDigest(s1, GENUINE_FMS);
      if (found) c2 = signedReply(GENUINE_FP_FULL, found.digest);
    }
    return rest.length ? { reply: c2, done: true, rest } : { reply: c2, done: true };
  }
}

export const HANDSHAKE_KEYS = { GENUINE_FP, GENUINE_FMS, GENUINE_FP_FULL, GENUINE_FMS_FULL };
