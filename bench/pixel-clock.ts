/**
 * A wall clock drawn into the picture, for glass-to-glass latency: the low 32 bits of Date.now()
 * (ms) and a CRC-8 of them as a strip of 40 black/white blocks, 16x32 pixels each (one H.264
 * macroblock wide, two tall, so x264 at any sane bitrate keeps them black and white), across the
 * top of a frame at least 640 pixels wide. The viewer reads the middle row of the strip back,
 * checks the CRC and subtracts the value from its own Date.now() (the same machine's clock).
 *
 * decodeClockRow and clockLatencyMs use nothing outside their own bodies, so a bench can hand
 * their source (Function.prototype.toString, types already stripped by Node) to a browser page.
 */

/** 32 clock bits (most significant first) then 8 CRC bits. */
export const CLOCK_BLOCKS = 40;
export const CLOCK_BLOCK_W = 16;
export const CLOCK_BLOCK_H = 32;
/** Top of the strip; its middle row (CLOCK_ROW_Y) is the one a viewer samples. */
export const CLOCK_TOP = 16;
export const CLOCK_ROW_Y = CLOCK_TOP + CLOCK_BLOCK_H / 2;

/**
 * CRC-8 (polynomial x^8+x^2+x+1, 0x07) of the 4 big-endian bytes of a 32-bit value, starting from
 * 0xff so that an all-black strip (a blank picture) is not a valid clock of 0.
 */
export function clockCrc8(value: number): number {
  let crc = 0xff;
  for (let byte = 3; byte >= 0; byte--) {
    crc ^= (value >>> (byte * 8)) & 0xff;
    for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

/** Paints the strip for `ms` (Date.now()) into an 8-bit luma plane `width` pixels wide. */
export function paintClock(luma: Uint8Array, width: number, ms: number): void {
  const value = (ms % 0x100000000) >>> 0;
  const crc = clockCrc8(value);
  for (let b = 0; b < CLOCK_BLOCKS; b++) {
    const bit = b < 32 ? (value >>> (31 - b)) & 1 : (crc >>> (39 - b)) & 1;
    const level = bit ? 235 : 16; // BT.601 studio-range white and black
    for (let y = CLOCK_TOP; y < CLOCK_TOP + CLOCK_BLOCK_H; y++)
      luma.fill(level, y * width + b * CLOCK_BLOCK_W, y * width + (b + 1) * CLOCK_BLOCK_W);
  }
}

/**
 * The 32-bit clock value in one row of pixels through the middle of the strip, or null when the
 * CRC does not match (a damaged or half-updated picture). `row[x * step]` is the brightness of
 * pixel x: step 1 for a luma row, 4 for canvas RGBA (the red channel, grey pixels).
 */
export function decodeClockRow(row: ArrayLike<number>, step: number): number | null {
  const blocks = 40;
  const blockW = 16;
  let value = 0;
  let crc = 0;
  for (let b = 0; b < blocks; b++) {
    // the middle half of the block: edges blur into the neighbours in 4:2:0 and the DCT
    let sum = 0;
    for (let x = b * blockW + 4; x < b * blockW + 12; x++) sum += row[x * step] ?? 0;
    const bit = sum / 8 > 128 ? 1 : 0;
    if (b < 32) value = ((value << 1) | bit) >>> 0;
    else crc = (crc << 1) | bit;
  }
  let check = 0xff;
  for (let byte = 3; byte >= 0; byte--) {
    check ^= (value >>> (byte * 8)) & 0xff;
    for (let i = 0; i < 8; i++) check = check & 0x80 ? ((check << 1) ^ 0x07) & 0xff : (check << 1) & 0xff;
  }
  return check === crc ? value : null;
}

/** now − the clock value, in ms, modulo 2^32 (the value holds Date.now()'s low 32 bits). */
export function clockLatencyMs(value: number, now: number): number {
  const low = now % 0x100000000;
  return (low - value + 0x100000000) % 0x100000000;
}
