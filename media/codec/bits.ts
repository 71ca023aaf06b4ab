/** Bounds-checked bit reader with Exp-Golomb codes (H.264 9.1); throws RC_CODEC_TRUNCATED at the end. */
import { MediaError } from '../errors.ts';

export class BitReader {
  private readonly buf: Buffer;
  private bit = 0;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  get bitsLeft(): number {
    return this.buf.length * 8 - this.bit;
  }
  u(n: number): number {
    if (n > this.bitsLeft) throw new MediaError('RC_CODEC_TRUNCATED', 'bitstream ended early');
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.buf[this.bit >> 3]!;
      v = v * 2 + ((byte >> (7 - (this.bit & 7))) & 1);
      this.bit++;
    }
    return v;
  }
  flag(): boolean {
    return this.u(1) === 1;
  }
  skip(n: number): void {
    if (n > this.bitsLeft) throw new MediaError('RC_CODEC_TRUNCATED', 'bitstream ended early');
    this.bit += n;
  }
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) {
      if (++zeros > 31) throw new MediaError('RC_CODEC_INVALID', 'Exp-Golomb code too long');
    }
    return zeros === 0 ? 0 : 2 ** zeros - 1 + this.u(zeros);
  }
  se(): number {
    const k = this.ue();
    return k & 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/** Removes emulation-prevention bytes (00 00 03 → 00 00), H.264 7.4.1. */
export function unescapeRbsp(nal: Buffer): Buffer {
  let zeros = 0;
  let needs = false;
  for (const b of nal) {
    if (zeros >= 2 && b === 3) {
      needs = true;
      break;
    }
    zeros = b === 0 ? zeros + 1 : 0;
  }
  if (!needs) return nal;
  const out = Buffer.allocUnsafe(nal.length);
  let n = 0;
  zeros = 0;
  for (const b of nal) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
}
