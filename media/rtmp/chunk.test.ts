import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MediaError } from '../errors.ts';
import { ChunkReader, ChunkWriter, type RtmpMessage } from './chunk.ts';

/**
 * Chunks written by hand from RTMP spec 5.3.1 (not with ChunkWriter, so the reader is not only
 * checked against our own writer).
 */
function basic(fmt: number, csid: number): number[] {
  if (csid < 64) return [(fmt << 6) | csid];
  if (csid < 320) return [fmt << 6, csid - 64];
  return [(fmt << 6) | 1, (csid - 64) & 0xff, (csid - 64) >> 8];
}
const u24 = (n: number) => [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const u32 = (n: number) => [(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const le32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
const payload = (len: number, seed: number) => Array.from({ length: len }, (_, i) => (i * 31 + seed) & 0xff);

function stream(): { bytes: Buffer; expected: RtmpMessage[] } {
  const out: number[] = [];
  const expected: RtmpMessage[] = [];
  // 1. a 300-byte command on csid 3 at chunk size 128: fmt 0 + two fmt 3 continuations
  const cmd = payload(300, 1);
  out.push(...basic(0, 3), ...u24(0), ...u24(300), 20, ...le32(0), ...cmd.slice(0, 128));
  out.push(...basic(3, 3), ...cmd.slice(128, 256), ...basic(3, 3), ...cmd.slice(256));
  expected.push({ csid: 3, typeId: 20, streamId: 0, timestamp: 0, payload: Buffer.from(cmd) });
  // 2. Set Chunk Size 4096 (applies to every later chunk)
  out.push(...basic(0, 2), ...u24(0), ...u24(4), 1, ...le32(0), ...u32(4096));
  expected.push({ csid: 2, typeId: 1, streamId: 0, timestamp: 0, payload: Buffer.from(u32(4096)) });
  // 3. audio on csid 4 (fmt 0 at 1000), then fmt 2 (delta 23), then fmt 3 as a new message (delta again)
  const a1 = payload(10, 2);
  const a2 = payload(10, 3);
  const a3 = payload(10, 4);
  out.push(...basic(0, 4), ...u24(1000), ...u24(10), 8, ...le32(1), ...a1);
  // 4. video on csid 6 interleaved: 5000 bytes, fmt 0 at 1000, split in two chunks (4096 + 904)
  const v1 = payload(5000, 5);
  out.push(...basic(0, 6), ...u24(1000), ...u24(5000), 9, ...le32(1), ...v1.slice(0, 4096));
  out.push(...basic(2, 4), ...u24(23), ...a2);
  out.push(...basic(3, 6), ...v1.slice(4096));
  out.push(...basic(3, 4), ...a3);
  expected.push({ csid: 4, typeId: 8, streamId: 1, timestamp: 1000, payload: Buffer.from(a1) });
  expected.push({ csid: 4, typeId: 8, streamId: 1, timestamp: 1023, payload: Buffer.from(a2) });
  expected.push({ csid: 6, typeId: 9, streamId: 1, timestamp: 1000, payload: Buffer.from(v1) });
  expected.push({ csid: 4, typeId: 8, streamId: 1, timestamp: 1046, payload: Buffer.from(a3) });
  // 5. fmt 1 on csid 6: new length and type, delta 33
  const v2 = payload(20, 6);
  out.push(...basic(1, 6), ...u24(33), ...u24(20), 9, ...v2);
  expected.push({ csid: 6, typeId: 9, streamId: 1, timestamp: 1033, payload: Buffer.from(v2) });
  // 6. extended timestamp 0x01000000 on a 5000-byte message: repeated on the fmt 3 continuation
  const v3 = payload(5000, 7);
  out.push(
    ...basic(0, 7),
    0xff,
    0xff,
    0xff,
    ...u24(5000),
    9,
    ...le32(1),
    ...u32(0x01000000),
    ...v3.slice(0, 4096),
  );
  out.push(...basic(3, 7), ...u32(0x01000000), ...v3.slice(4096));
  expected.push({ csid: 7, typeId: 9, streamId: 1, timestamp: 0x01000000, payload: Buffer.from(v3) });
  // 7. 2-byte (csid 300) and 3-byte (csid 65599) basic headers
  const d1 = payload(5, 8);
  const d2 = payload(5, 9);
  out.push(...basic(0, 300), ...u24(7), ...u24(5), 18, ...le32(1), ...d1);
  out.push(...basic(0, 65599), ...u24(8), ...u24(5), 18, ...le32(1), ...d2);
  expected.push({ csid: 300, typeId: 18, streamId: 1, timestamp: 7, payload: Buffer.from(d1) });
  expected.push({ csid: 65599, typeId: 18, streamId: 1, timestamp: 8, payload: Buffer.from(d2) });
  // 8. Abort: a half message on csid 9 is dropped, then a whole one arrives
  const big = payload(6000, 10);
  out.push(...basic(0, 9), ...u24(0), ...u24(6000), 9, ...le32(1), ...big.slice(0, 4096));
  out.push(...basic(0, 2), ...u24(0), ...u24(4), 2, ...le32(0), ...u32(9));
  expected.push({ csid: 2, typeId: 2, streamId: 0, timestamp: 0, payload: Buffer.from(u32(9)) });
  const small = payload(3, 11);
  out.push(...basic(0, 9), ...u24(50), ...u24(3), 8, ...le32(1), ...small);
  expected.push({ csid: 9, typeId: 8, streamId: 1, timestamp: 50, payload: Buffer.from(small) });
  return { bytes: Buffer.from(out), expected };
}

function readAll(pieces: Buffer[]): RtmpMessage[] {
  const r = new ChunkReader();
  return pieces.flatMap((p) => r.push(p));
}

describe('ChunkReader', () => {
  const { bytes, expected } = stream();

  it('reads every header format, extended timestamps, 1/2/3-byte basic headers, Set Chunk Size and Abort', () => {
    assert.deepEqual(readAll([bytes]), expected);
  });

  it('gives identical messages split at every byte boundary, and byte by byte', () => {
    for (let i = 1; i < bytes.length; i++) {
      assert.deepEqual(readAll([bytes.subarray(0, i), bytes.subarray(i)]), expected, `split at ${i}`);
    }
    const single = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
    assert.deepEqual(readAll(single), expected);
  });

  it('enforces limits with typed errors', () => {
    const tooBig = Buffer.from([...basic(0, 4), ...u24(0), ...u24(2_000_000), 9, ...le32(1)]);
    assert.throws(
      () => new ChunkReader({ maxMessageBytes: 1_000_000 }).push(tooBig),
      (e: unknown) => e instanceof MediaError && e.code === 'RC_RTMP_MESSAGE_TOO_LARGE',
    );
    const badSize = Buffer.from([...basic(0, 2), ...u24(0), ...u24(4), 1, ...le32(0), ...u32(0)]);
    assert.throws(
      () => new ChunkReader().push(badSize),
      (e: unknown) => e instanceof MediaError && e.code === 'RC_RTMP_CHUNK_SIZE',
    );
    assert.throws(
      () => new ChunkReader().push(Buffer.from([...basic(1, 5), 0, 0, 0, 0, 0, 1, 9, 0])),
      (e: unknown) => e instanceof MediaError && e.code === 'RC_RTMP_BAD_CHUNK',
    );
    const many: number[] = [];
    for (let c = 3; c < 3 + 70; c++) many.push(...basic(0, c), ...u24(0), ...u24(1), 8, ...le32(1), 0);
    assert.throws(
      () => new ChunkReader({ maxChunkStreams: 64 }).push(Buffer.from(many)),
      (e: unknown) => e instanceof MediaError && e.code === 'RC_RTMP_TOO_MANY_CHUNK_STREAMS',
    );
  });

  it('round-trips ChunkWriter output for random messages, chunk sizes and timestamps', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            csid: fc.oneof(
              fc.integer({ min: 3, max: 63 }),
              fc.integer({ min: 64, max: 319 }),
              fc.integer({ min: 320, max: 65599 }),
            ),
            typeId: fc.constantFrom(8, 9, 18, 20),
            streamId: fc.integer({ min: 0, max: 10 }),
            timestamp: fc.oneof(
              fc.integer({ min: 0, max: 0xfffffe }),
              fc.integer({ min: 0xffffff, max: 0xffffffff }),
            ),
            payload: fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
          }),
          { maxLength: 8 },
        ),
        fc.integer({ min: 1, max: 5000 }),
        (messages, chunkSize) => {
          const w = new ChunkWriter();
          w.chunkSize = chunkSize;
          const r = new ChunkReader();
          // the reader learns the size from a Set Chunk Size message, as on the wire
          r.push(Buffer.from([...basic(0, 2), ...u24(0), ...u24(4), 1, ...le32(0), ...u32(chunkSize)]));
          const encoded = messages.map((m) => w.encode(m));
          const into = Buffer.alloc(encoded.reduce((a, b) => a + b.length, 0));
          let off = 0;
          for (const m of messages) off = w.encodeInto(into, off, m);
          assert.deepEqual(into, Buffer.concat(encoded));
          const got = r.push(into);
          assert.deepEqual(
            got,
            messages.map((m) => ({ ...m })),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

/**
 * Messages with extended timestamps spanning several chunks, in the two forms found in the wild:
 * the extended timestamp repeated on every type 3 continuation (Adobe's spec 5.3.1.3, ffmpeg, OBS)
 * or omitted there (older librtmp-based encoders).
 */
function extendedStream(repeat: boolean): { bytes: Buffer; expected: RtmpMessage[] } {
  const out: number[] = [];
  const expected: RtmpMessage[] = [];
  const cont = (csid: number, ext: number) => [...basic(3, csid), ...(repeat ? u32(ext) : [])];
  // 1. fmt 0, absolute extended timestamp 0x01000000, 300 bytes at chunk size 128: 128 + 128 + 44
  const a = payload(300, 21);
  out.push(...basic(0, 4), 0xff, 0xff, 0xff, ...u24(300), 9, ...le32(1), ...u32(0x01000000));
  out.push(...a.slice(0, 128), ...cont(4, 0x01000000), ...a.slice(128, 256));
  out.push(...cont(4, 0x01000000), ...a.slice(256));
  expected.push({ csid: 4, typeId: 9, streamId: 1, timestamp: 0x01000000, payload: Buffer.from(a) });
  // 2. a 130-byte message: its continuation holds 2 payload bytes, fewer than the 4 the reader
  //    peeks, and the next chunk's header follows straight after them
  const b = payload(130, 22);
  out.push(...basic(0, 5), 0xff, 0xff, 0xff, ...u24(130), 8, ...le32(1), ...u32(0x02000000));
  out.push(...b.slice(0, 128), ...cont(5, 0x02000000), ...b.slice(128));
  expected.push({ csid: 5, typeId: 8, streamId: 1, timestamp: 0x02000000, payload: Buffer.from(b) });
  // 3. fmt 1 with an extended delta (0x01000010) and one continuation
  const c = payload(200, 23);
  out.push(...basic(1, 4), 0xff, 0xff, 0xff, ...u24(200), 9, ...u32(0x01000010));
  out.push(...c.slice(0, 128), ...cont(4, 0x01000010), ...c.slice(128));
  expected.push({ csid: 4, typeId: 9, streamId: 1, timestamp: 0x02000010, payload: Buffer.from(c) });
  // 4. a plain message after them: the reader is still aligned
  const d = payload(10, 24);
  out.push(...basic(0, 6), ...u24(5), ...u24(10), 18, ...le32(1), ...d);
  expected.push({ csid: 6, typeId: 18, streamId: 1, timestamp: 5, payload: Buffer.from(d) });
  return { bytes: Buffer.from(out), expected };
}

describe('ChunkReader: extended timestamps on type 3 continuation chunks', () => {
  for (const repeat of [true, false]) {
    const label = repeat ? 'repeated (spec, ffmpeg, OBS)' : 'omitted (older librtmp encoders)';
    const { bytes, expected } = extendedStream(repeat);
    it(`reads messages with the field ${label}, in one piece and split at every byte boundary`, () => {
      assert.deepEqual(readAll([bytes]), expected);
      for (let i = 1; i < bytes.length; i++) {
        assert.deepEqual(readAll([bytes.subarray(0, i), bytes.subarray(i)]), expected, `split at ${i}`);
      }
      const single = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
      assert.deepEqual(readAll(single), expected, 'byte by byte');
    });
  }

  it('counts every byte once, replayed or not', () => {
    const { bytes } = extendedStream(false);
    const r = new ChunkReader();
    r.push(bytes.subarray(0, 140));
    r.push(bytes.subarray(140));
    assert.equal(r.bytesReceived, bytes.length);
  });
});
