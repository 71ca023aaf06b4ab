/**
 * AMF0 (Adobe "Action Message Format -- AMF 0", 2007). Decoding is bounded: every length is checked
 * against the bytes that remain and against AmfLimits before anything is allocated.
 */
import { MediaError } from '../errors.ts';
import { decodeAmf3 } from './amf3.ts';

export type AmfValue = number | boolean | string | null | undefined | Date | AmfValue[] | AmfObject;
export interface AmfObject {
  [key: string]: AmfValue;
}

/** Encode-only marker: the entries are written as an ECMA array (marker 0x08), as onMetaData uses. */
export class AmfEcmaArray {
  readonly entries: AmfObject;
  constructor(entries: AmfObject) {
    this.entries = entries;
  }
}

export interface AmfLimits {
  maxDepth: number;
  maxStringBytes: number;
  maxItems: number;
}

export const DEFAULT_AMF_LIMITS: AmfLimits = { maxDepth: 16, maxStringBytes: 1024 * 1024, maxItems: 65536 };

// AMF0 spec 2.1: type markers
const NUMBER = 0x00;
const BOOLEAN = 0x01;
const STRING = 0x02;
const OBJECT = 0x03;
const MOVIECLIP = 0x04;
const NULL = 0x05;
const UNDEFINED = 0x06;
const REFERENCE = 0x07;
const ECMA_ARRAY = 0x08;
const OBJECT_END = 0x09;
const STRICT_ARRAY = 0x0a;
const DATE = 0x0b;
const LONG_STRING = 0x0c;
const UNSUPPORTED = 0x0d;
const RECORDSET = 0x0e;
const XML_DOCUMENT = 0x0f;
const TYPED_OBJECT = 0x10;
const AVMPLUS_OBJECT = 0x11;

class Reader {
  readonly buf: Buffer;
  pos: number;
  readonly limits: AmfLimits;
  readonly refs: AmfValue[] = [];
  /** Objects still being read: a reference to one would make a cycle. */
  readonly open = new Set<AmfValue>();
  constructor(buf: Buffer, pos: number, limits: AmfLimits) {
    this.buf = buf;
    this.pos = pos;
    this.limits = limits;
  }
  need(n: number): void {
    if (this.pos + n > this.buf.length)
      throw new MediaError(
        'RC_AMF_TRUNCATED',
        `AMF0: need ${n} bytes at ${this.pos}, have ${this.buf.length - this.pos}`,
      );
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  utf8(len: number): string {
    if (len > this.limits.maxStringBytes)
      throw new MediaError(
        'RC_AMF_TOO_LONG',
        `AMF0: string of ${len} bytes exceeds ${this.limits.maxStringBytes}`,
      );
    this.need(len);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
}

/**
 * Sets a decoded member as an own data property. Plain assignment of the key `__proto__` would set
 * the object's prototype instead (a peer could then make onMetaData inherit anything).
 */
export function setMember(target: AmfObject, key: string, value: AmfValue): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function readProperties(r: Reader, target: AmfObject, depth: number): void {
  // AMF0 2.5: UTF-8 key / value pairs until an empty key followed by object-end (0x00 0x00 0x09)
  let items = 0;
  for (;;) {
    const key = r.utf8(r.u16());
    if (key === '') {
      const end = r.u8();
      if (end !== OBJECT_END)
        throw new MediaError('RC_AMF_BAD_MARKER', `AMF0: expected object-end, got 0x${end.toString(16)}`);
      return;
    }
    if (++items > r.limits.maxItems) throw new MediaError('RC_AMF_TOO_LONG', 'AMF0: too many object members');
    // Some encoders terminate ECMA arrays without the empty key; tolerate a bare object-end.
    setMember(target, key, readValue(r, depth + 1));
  }
}

function readValue(r: Reader, depth: number): AmfValue {
  if (depth > r.limits.maxDepth)
    throw new MediaError('RC_AMF_TOO_DEEP', `AMF0: nesting deeper than ${r.limits.maxDepth}`);
  const marker = r.u8();
  switch (marker) {
    case NUMBER:
      return r.f64();
    case BOOLEAN:
      return r.u8() !== 0;
    case STRING:
      return r.utf8(r.u16());
    case LONG_STRING:
    case XML_DOCUMENT:
      return r.utf8(r.u32());
    case OBJECT:
    case TYPED_OBJECT: {
      if (marker === TYPED_OBJECT) r.utf8(r.u16()); // class name, dropped
      const obj: AmfObject = {};
      r.refs.push(obj);
      r.open.add(obj);
      readProperties(r, obj, depth);
      r.open.delete(obj);
      return obj;
    }
    case ECMA_ARRAY: {
      const count = r.u32(); // associative-count: advisory only
      if (count > r.limits.maxItems)
        throw new MediaError('RC_AMF_TOO_LONG', `AMF0: ECMA array of ${count} items`);
      const obj: AmfObject = {};
      r.refs.push(obj);
      // Some writers omit the terminator when count is exact and the buffer ends.
      if (r.pos + 3 > r.buf.length && r.pos === r.buf.length) return obj;
      r.open.add(obj);
      readProperties(r, obj, depth);
      r.open.delete(obj);
      return obj;
    }
    case STRICT_ARRAY: {
      const count = r.u32();
      if (count > r.limits.maxItems)
        throw new MediaError('RC_AMF_TOO_LONG', `AMF0: strict array of ${count} items`);
      r.need(count); // every element takes at least one byte
      const arr: AmfValue[] = [];
      r.refs.push(arr);
      r.open.add(arr);
      for (let i = 0; i < count; i++) arr.push(readValue(r, depth + 1));
      r.open.delete(arr);
      return arr;
    }
    case DATE: {
      const ms = r.f64();
      r.u16(); // time-zone, reserved (AMF0 2.13)
      return new Date(ms);
    }
    case NULL:
      return null;
    case UNDEFINED:
    case UNSUPPORTED:
      return undefined;
    case REFERENCE: {
      const idx = r.u16();
      if (idx >= r.refs.length)
        throw new MediaError('RC_AMF_BAD_REFERENCE', `AMF0: reference ${idx} to unknown object`);
      // Values are trees: a reference to an object that contains it would make a cycle that
      // breaks every consumer (encoders, JSON logs) with unbounded recursion.
      if (r.open.has(r.refs[idx]))
        throw new MediaError('RC_AMF_BAD_REFERENCE', `AMF0: reference ${idx} points into itself`);
      return r.refs[idx];
    }
    case AVMPLUS_OBJECT: {
      const out = decodeAmf3(r.buf, r.pos, r.limits);
      r.pos = out.offset;
      return out.value;
    }
    case MOVIECLIP:
    case RECORDSET:
    case OBJECT_END:
      throw new MediaError('RC_AMF_BAD_MARKER', `AMF0: marker 0x${marker.toString(16)} is not allowed here`);
    default:
      throw new MediaError('RC_AMF_BAD_MARKER', `AMF0: unknown marker 0x${marker.toString(16)}`);
  }
}

/** Decodes every AMF0 value in buf. */
export function decodeAmf0(buf: Buffer, limits?: Partial<AmfLimits>): AmfValue[] {
  const r = new Reader(buf, 0, { ...DEFAULT_AMF_LIMITS, ...limits });
  const out: AmfValue[] = [];
  while (r.pos < buf.length) out.push(readValue(r, 0));
  return out;
}

/** Decodes one value at offset (used by AMF3-in-AMF0 callers and tests). */
export function decodeAmf0Value(
  buf: Buffer,
  offset: number,
  limits?: Partial<AmfLimits>,
): { value: AmfValue; offset: number } {
  const r = new Reader(buf, offset, { ...DEFAULT_AMF_LIMITS, ...limits });
  const value = readValue(r, 0);
  return { value, offset: r.pos };
}

type Encodable = AmfValue | AmfEcmaArray;

function sizeOfString(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function encodeKey(parts: Buffer[], key: string): void {
  const len = sizeOfString(key);
  const b = Buffer.allocUnsafe(2 + len);
  b.writeUInt16BE(len, 0);
  b.write(key, 2, 'utf8');
  parts.push(b);
}

function encodeValue(parts: Buffer[], v: Encodable): void {
  if (typeof v === 'number') {
    const b = Buffer.allocUnsafe(9);
    b[0] = NUMBER;
    b.writeDoubleBE(v, 1);
    parts.push(b);
  } else if (typeof v === 'boolean') {
    parts.push(Buffer.from([BOOLEAN, v ? 1 : 0]));
  } else if (typeof v === 'string') {
    const len = sizeOfString(v);
    if (len > 0xffff) {
      const b = Buffer.allocUnsafe(5 + len);
      b[0] = LONG_STRING;
      b.writeUInt32BE(len, 1);
      b.write(v, 5, 'utf8');
      parts.push(b);
    } else {
      const b = Buffer.allocUnsafe(3 + len);
      b[0] = STRING;
      b.writeUInt16BE(len, 1);
      b.write(v, 3, 'utf8');
      parts.push(b);
    }
  } else if (v === null) {
    parts.push(Buffer.from([NULL]));
  } else if (v === undefined) {
    parts.push(Buffer.from([UNDEFINED]));
  } else if (v instanceof Date) {
    const b = Buffer.alloc(11);
    b[0] = DATE;
    b.writeDoubleBE(v.getTime(), 1);
    parts.push(b);
  } else if (Array.isArray(v)) {
    const b = Buffer.allocUnsafe(5);
    b[0] = STRICT_ARRAY;
    b.writeUInt32BE(v.length, 1);
    parts.push(b);
    for (const item of v) encodeValue(parts, item);
  } else if (v instanceof AmfEcmaArray) {
    const keys = Object.keys(v.entries);
    const b = Buffer.allocUnsafe(5);
    b[0] = ECMA_ARRAY;
    b.writeUInt32BE(keys.length, 1);
    parts.push(b);
    for (const k of keys) {
      encodeKey(parts, k);
      encodeValue(parts, v.entries[k]);
    }
    parts.push(Buffer.from([0, 0, OBJECT_END]));
  } else {
    parts.push(Buffer.from([OBJECT]));
    for (const [k, item] of Object.entries(v)) {
      encodeKey(parts, k);
      encodeValue(parts, item as Encodable);
    }
    parts.push(Buffer.from([0, 0, OBJECT_END]));
  }
}

export function encodeAmf0(values: readonly Encodable[]): Buffer {
  const parts: Buffer[] = [];
  for (const v of values) encodeValue(parts, v);
  return Buffer.concat(parts);
}
