import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLOCK_ROW_Y, clockCrc8, clockLatencyMs, decodeClockRow, paintClock } from './pixel-clock.ts';

const W = 640;
const H = 360;

function frameWith(ms: number): Uint8Array {
  const luma = new Uint8Array(W * H).fill(128);
  paintClock(luma, W, ms);
  return luma;
}

describe('pixel clock', () => {
  it('reads back the ms it painted, from a luma row and from RGBA', () => {
    for (const ms of [0, 1, 0xffffffff, 1_764_755_237_123, Date.now()]) {
      const luma = frameWith(ms);
      const row = luma.subarray(CLOCK_ROW_Y * W, (CLOCK_ROW_Y + 1) * W);
      const value = decodeClockRow(row, 1);
      assert.equal(value, ms % 2 ** 32);
      const rgba = new Uint8Array(W * 4);
      for (let x = 0; x < W; x++) rgba.fill(row[x]!, x * 4, x * 4 + 3);
      assert.equal(decodeClockRow(rgba, 4), value);
      assert.equal(clockLatencyMs(value!, ms + 250), 250);
    }
  });

  it('survives coding noise but rejects a flipped block', () => {
    const ms = 1_764_755_237_123;
    const luma = frameWith(ms);
    const row = Uint8Array.from(luma.subarray(CLOCK_ROW_Y * W, (CLOCK_ROW_Y + 1) * W));
    const noisy = row.map((p, x) => Math.max(0, Math.min(255, p + ((x * 37) % 61) - 30)));
    assert.equal(decodeClockRow(noisy, 1), ms % 2 ** 32);
    for (const block of [0, 17, 31, 39]) {
      const bad = Uint8Array.from(row);
      for (let x = block * 16; x < block * 16 + 16; x++) bad[x] = 255 - bad[x]!;
      assert.equal(decodeClockRow(bad, 1), null, `block ${block} flipped`);
    }
  });

  it('rejects a blank picture: all black, all white, all grey', () => {
    for (const level of [0, 16, 128, 235, 255])
      assert.equal(decodeClockRow(new Uint8Array(W).fill(level), 1), null, `level ${level}`);
  });

  it('wraps the latency across 2^32 ms and has a CRC that sees every single-bit error', () => {
    assert.equal(clockLatencyMs(0xfffffff0, 2 ** 32 + 0x10), 0x20);
    const v = 0x12345678;
    for (let bit = 0; bit < 32; bit++) assert.notEqual(clockCrc8(v ^ (1 << bit)), clockCrc8(v));
  });

  it('works from its own source text (what the browser page evaluates)', () => {
    const decode = new Function(`return ${decodeClockRow.toString()}`)() as typeof decodeClockRow;
    const luma = frameWith(123_456_789);
    assert.equal(decode(luma.subarray(CLOCK_ROW_Y * W, (CLOCK_ROW_Y + 1) * W), 1), 123_456_789);
  });
});
