import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MediaError } from '../errors.ts';
import { AmfEcmaArray, decodeAmf0, encodeAmf0 } from './amf0.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Byte vectors written from the AMF0 spec (2.2–2.14), not produced by the encoder under test.
const VECTORS: [string, unknown, string][] = [
  ['number 1.5', 1.5, '00 3ff8000000000000'],
  ['boolean true', true, '01 01'],
  ['boolean false', false, '01 00'],
  ['string "live"', 'live', '02 0004 6c697665'],
  ['null', null, '05'],
  ['undefined', undefined, '06'],
  ['object {a: 1}', { a: 1 }, '03 0001 61 00 3ff0000000000000 000009'],
  ['strict array [1, "x"]', [1, 'x'], '0a 00000002 00 3ff0000000000000 02 0001 78'],
];

describe('AMF0', () => {
  for (const [label, value, bytes] of VECTORS) {
    it(`encodes and decodes ${label} byte-exact`, () => {
      assert.deepEqual(encodeAmf0([value as never]), hex(bytes));
      assert.deepEqual(decodeAmf0(hex(bytes)), [value]);
    });
  }

  it('ECMA array: encode-only marker, decoded as a plain object', () => {
    const bytes = hex('08 00000001 0005 7769647468 00 4084000000000000 000009');
    assert.deepEqual(encodeAmf0([new AmfEcmaArray({ width: 640 })]), bytes);
    assert.deepEqual(decodeAmf0(bytes), [{ width: 640 }]);
  });

  it('date carries milliseconds and a time zone that is ignored', () => {
    const bytes = hex('0b 4272d3edfa400000 0000');
    const [d] = decodeAmf0(bytes);
    assert.ok(d instanceof Date);
    assert.equal(d.getTime(), 1_293_840_000_000);
    assert.deepEqual(encodeAmf0([new Date(1_293_840_000_000)]), bytes);
  });

  it('long strings use marker 0x0c above 65535 bytes', () => {
    const s = 'x'.repeat(70_000);
    const enc = encodeAmf0([s]);
    assert.equal(enc[0], 0x0c);
    assert.equal(enc.readUInt32BE(1), 70_000);
    assert.deepEqual(decodeAmf0(enc), [s]);
  });

  it('decodes the connect command as ffmpeg sends it', () => {
    const cmd = encodeAmf0([
      'connect',
      1,
      {
        app: 'live',
        type: 'nonprivate',
        flashVer: 'FMLE/3.0 (compatible; Lavf61.7.100)',
        tcUrl: 'rtmp://127.0.0.1:1935/live',
      },
    ]);
    assert.deepEqual(decodeAmf0(cmd), [
      'connect',
      1,
      {
        app: 'live',
        type: 'nonprivate',
        flashVer: 'FMLE/3.0 (compatible; Lavf61.7.100)',
        tcUrl: 'rtmp://127.0.0.1:1935/live',
      },
    ]);
  });

  it('every truncation of a valid buffer is a typed error', () => {
    const full = encodeAmf0([
      'onMetaData',
      new AmfEcmaArray({ width: 640, height: 360, encoder: 'x', stereo: true }),
      [1, 2],
    ]);
    for (let n = 1; n < full.length; n++) {
      try {
        decodeAmf0(full.subarray(0, n));
      } catch (err) {
        assert.ok(err instanceof MediaError, `cut at ${n}: ${String(err)}`);
      }
      // a cut exactly between two values decodes fewer values, which is fine
    }
  });

  it('limits: nesting depth, string length, references', () => {
    let deep = Buffer.alloc(0);
    for (let i = 0; i < 40; i++) deep = Buffer.concat([deep, hex('0a 00000001')]);
    deep = Buffer.concat([deep, hex('05')]);
    assert.throws(
      () => decodeAmf0(deep),
      (e: unknown) => e instanceof MediaError && e.code === 'RC_AMF_TOO_DEEP',
    );
    // declares a 4 GiB long string: refused before any allocation
    assert.throws(
      () => decodeAmf0(hex('0c ffffffff 41')),
      (e: unknown) => e instanceof MediaError && e.code === 'RC_AMF_TOO_LONG',
    );
    assert.throws(
      () => decodeAmf0(hex('07 0005')),
      (e: unknown) => e instanceof MediaError && e.code === 'RC_AMF_BAD_REFERENCE',
    );
    assert.throws(
      () => decodeAmf0(hex('99')),
      (e: unknown) => e instanceof MediaError && e.code === 'RC_AMF_BAD_MARKER',
    );
  });

  it('AMF3 through the avmplus marker: integers, strings with references, objects', () => {
    // 0x11 switches one value to AMF3 (AMF3 spec 3.x)
    assert.deepEqual(decodeAmf0(hex('11 04 7f')), [127]);
    assert.deepEqual(decodeAmf0(hex('11 04 8100')), [128]);
    assert.deepEqual(decodeAmf0(hex('11 04 ffffffff')), [-1]);
    assert.deepEqual(decodeAmf0(hex('11 04 bfffffff')), [0x0fffffff]);
    // dynamic anonymous object {a: "x", b: "x"} where the second "x" is a string reference
    assert.deepEqual(decodeAmf0(hex('11 0a 0b 01 03 61 06 03 78 03 62 06 02 01')), [{ a: 'x', b: 'x' }]);
    // sealed traits with one member "w" = 2.5 (double)
    assert.deepEqual(decodeAmf0(hex('11 0a 13 01 03 77 05 4004000000000000')), [{ w: 2.5 }]);
  });
});

describe('AMF0/AMF3: hostile shapes', () => {
  const key = (k: string) => {
    const b = Buffer.alloc(2 + k.length);
    b.writeUInt16BE(k.length, 0);
    b.write(k, 2, 'latin1');
    return b;
  };
  const num = (n: number) => {
    const b = Buffer.alloc(9);
    b[0] = 0x00;
    b.writeDoubleBE(n, 1);
    return b;
  };
  const END = Buffer.from([0x00, 0x00, 0x09]);

  it('a "__proto__" member is an own property and never sets the prototype', () => {
    // object { __proto__: { polluted: 1 } }
    const inner = Buffer.concat([Buffer.from([0x03]), key('polluted'), num(1), END]);
    const buf = Buffer.concat([Buffer.from([0x03]), key('__proto__'), inner, END]);
    const [obj] = decodeAmf0(buf) as [Record<string, unknown>];
    assert.equal(Object.getPrototypeOf(obj), Object.prototype);
    assert.equal((obj as { polluted?: unknown }).polluted, undefined, 'nothing inherited');
    assert.ok(Object.hasOwn(obj, '__proto__'));
    assert.equal(({} as { polluted?: unknown }).polluted, undefined, 'Object.prototype untouched');
  });

  it('an object that references itself is refused (no cycle reaches encoders or logs)', () => {
    // object { self: reference 0 } — reference 0 is the object being read
    const buf = Buffer.concat([Buffer.from([0x03]), key('self'), Buffer.from([0x07, 0x00, 0x00]), END]);
    assert.throws(
      () => decodeAmf0(buf),
      (err: unknown) => err instanceof MediaError && err.code === 'RC_AMF_BAD_REFERENCE',
    );
    // a strict array holding a reference to itself
    const arr = Buffer.from([0x0a, 0, 0, 0, 1, 0x07, 0x00, 0x00]);
    assert.throws(() => decodeAmf0(arr), { code: 'RC_AMF_BAD_REFERENCE' });
  });

  it('a reference to a finished sibling still works (shared, not cyclic)', () => {
    const a = Buffer.concat([Buffer.from([0x03]), key('x'), num(1), END]);
    const [first, second] = decodeAmf0(Buffer.concat([a, Buffer.from([0x07, 0x00, 0x00])]));
    assert.equal(first, second);
  });

  it('AMF3: a dynamic object that references itself is refused; __proto__ is an own member', () => {
    // AMF0 avmplus marker 0x11, AMF3 object 0x0a, traits inline dynamic with 0 sealed: U29 = 0b1011
    // class name "" (0x01), member "self" (U29 (4<<1)|1 = 0x09), value object ref 0 (U29 0 -> 0x00),
    // end of dynamic members (empty string 0x01)
    const selfRef = Buffer.from([0x11, 0x0a, 0x0b, 0x01, 0x09, ...Buffer.from('self'), 0x0a, 0x00, 0x01]);
    assert.throws(() => decodeAmf0(selfRef), { code: 'RC_AMF_BAD_REFERENCE' });
    const proto = Buffer.from([0x11, 0x0a, 0x0b, 0x01, 0x13, ...Buffer.from('__proto__'), 0x04, 0x05, 0x01]);
    const [obj] = decodeAmf0(proto) as [Record<string, unknown>];
    assert.equal(Object.getPrototypeOf(obj), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(obj, '__proto__')?.value, 5);
  });
});
