/**
 * ISO base media file format boxes (ISO/IEC 14496-12:2015, "ISOBMFF"): the generic Box and
 * FullBox headers every other writer here builds on. Boxes are assembled from their children's
 * bytes; sizes use the 32-bit form (4.2: size, type; largesize is never needed for one part).
 */

/** 14496-12 4.2 Box: size (32), type (4 chars), then the payload. */
export function box(type: string, ...payload: Buffer[]): Buffer {
  let size = 8;
  for (const p of payload) size += p.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(size, 0);
  out.write(type, 4, 4, 'latin1');
  let pos = 8;
  for (const p of payload) {
    p.copy(out, pos);
    pos += p.length;
  }
  return out;
}

/** 14496-12 4.2 FullBox: a Box whose payload starts with version (8) and flags (24). */
export function fullBox(type: string, version: number, flags: number, ...payload: Buffer[]): Buffer {
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff), 0);
  return box(type, head, ...payload);
}

/** Big-endian fixed-width fields, written in order. */
export class FieldWriter {
  private readonly buf: Buffer;
  private pos = 0;
  constructor(size: number) {
    this.buf = Buffer.alloc(size);
  }
  u8(v: number): this {
    this.buf.writeUInt8(v & 0xff, this.pos);
    this.pos += 1;
    return this;
  }
  u16(v: number): this {
    this.buf.writeUInt16BE(v & 0xffff, this.pos);
    this.pos += 2;
    return this;
  }
  u24(v: number): this {
    this.buf.writeUIntBE(v & 0xffffff, this.pos, 3);
    this.pos += 3;
    return this;
  }
  u32(v: number): this {
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }
  i32(v: number): this {
    this.buf.writeInt32BE(v | 0, this.pos);
    this.pos += 4;
    return this;
  }
  u64(v: number): this {
    this.buf.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(v))), this.pos);
    this.pos += 8;
    return this;
  }
  zeros(n: number): this {
    this.pos += n; // Buffer.alloc zero-filled
    return this;
  }
  bytes(b: Buffer): this {
    b.copy(this.buf, this.pos);
    this.pos += b.length;
    return this;
  }
  ascii(s: string): this {
    this.buf.write(s, this.pos, s.length, 'latin1');
    this.pos += s.length;
    return this;
  }
  done(): Buffer {
    if (this.pos !== this.buf.length)
      throw new Error(`FieldWriter: wrote ${this.pos} of ${this.buf.length} bytes`); // a bug here, not bad input
    return this.buf;
  }
}

/** 14496-12 6.2.2 / 8.2.2: the unity transformation matrix (16.16 and 2.30 fixed point). */
export const UNITY_MATRIX = Buffer.from([
  0x00, 0x01, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0x40, 0x00, 0x00, 0x00,
]);
