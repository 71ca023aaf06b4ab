/**
 * AMF3 decoding (Adobe "AMF 3 Specification", 2013), for encoders that switch to AMF3 with the
 * avmplus-object marker. Reference tables for strings, objects and traits (spec 2.2, 3.x).
 */
import { MediaError } from '../errors.ts';
import { type AmfLimits, type AmfObject, type AmfValue, setMember } from './amf0.ts';

interface Traits {
  className: string;
  dynamic: boolean;
  externalizable: boolean;
  sealed: string[];
}

class Reader3 {
  readonly buf: Buffer;
  pos: number;
  readonly limits: AmfLimits;
  readonly strings: string[] = [];
  readonly objects: AmfValue[] = [];
  /** Arrays and objects still being read: a reference to one would make a cycle. */
  readonly open = new Set<AmfValue>();
  readonly traits: Traits[] = [];
  constructor(buf: Buffer, pos: number, limits: AmfLimits) {
    this.buf = buf;
    this.pos = pos;
    this.limits = limits;
  }
  need(n: number): void {
    if (this.pos + n > this.buf.length)
      throw new MediaError('RC_AMF_TRUNCATED', `AMF3: need ${n} bytes at ${this.pos}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  /** AMF3 1.3.1: U29, 1–4 bytes, big-endian, 7 bits per byte except the 4th (8 bits). */
  u29(): number {
    let v = 0;
    for (let i = 0; i < 3; i++) {
      const b = this.u8();
      v = (v << 7) | (b & 0x7f);
      if (!(b & 0x80)) return v;
    }
    return ((v << 8) | this.u8()) >>> 0;
  }
  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  bytes(len: number): Buffer {
    if (len > this.limits.maxStringBytes)
      throw new MediaError('RC_AMF_TOO_LONG', `AMF3: ${len} bytes exceeds the limit`);
    this.need(len);
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }
  /** UTF-8-vr (3.8): U29S-ref or U29S-value; the empty string is never referenced. */
  string(): string {
    const h = this.u29();
    if (!(h & 1)) {
      const s = this.strings[h >> 1];
      if (s === undefined) throw new MediaError('RC_AMF_BAD_REFERENCE', `AMF3: string reference ${h >> 1}`);
      return s;
    }
    const s = this.bytes(h >> 1).toString('utf8');
    if (s !== '') this.strings.push(s);
    return s;
  }
  objectRef(h: number): AmfValue {
    const idx = h >> 1;
    if (idx >= this.objects.length)
      throw new MediaError('RC_AMF_BAD_REFERENCE', `AMF3: object reference ${idx}`);
    if (this.open.has(this.objects[idx]))
      throw new MediaError('RC_AMF_BAD_REFERENCE', `AMF3: object reference ${idx} points into itself`);
    return this.objects[idx];
  }
}

function value(r: Reader3, depth: number): AmfValue {
  if (depth > r.limits.maxDepth)
    throw new MediaError('RC_AMF_TOO_DEEP', `AMF3: nesting deeper than ${r.limits.maxDepth}`);
  const marker = r.u8();
  switch (marker) {
    case 0x00: // undefined
      return undefined;
    case 0x01: // null
      return null;
    case 0x02:
      return false;
    case 0x03:
      return true;
    case 0x04: {
      const v = r.u29();
      return v & 0x10000000 ? v - 0x20000000 : v; // 29-bit two's complement
    }
    case 0x05:
      return r.f64();
    case 0x06:
      return r.string();
    case 0x07: // xml-doc
    case 0x0b: {
      // xml
      const h = r.u29();
      if (!(h & 1)) return r.objectRef(h);
      const s = r.bytes(h >> 1).toString('utf8');
      r.objects.push(s);
      return s;
    }
    case 0x08: {
      // date
      const h = r.u29();
      if (!(h & 1)) return r.objectRef(h);
      const d = new Date(r.f64());
      r.objects.push(d);
      return d;
    }
    case 0x09: {
      // array: associative part then dense part (3.11)
      const h = r.u29();
      if (!(h & 1)) return r.objectRef(h);
      const dense = h >> 1;
      if (dense > r.limits.maxItems) throw new MediaError('RC_AMF_TOO_LONG', `AMF3: array of ${dense} items`);
      const assoc: AmfObject = {};
      let hasAssoc = false;
      const placeholder: AmfValue[] = [];
      const slot = r.objects.length;
      r.objects.push(placeholder);
      r.open.add(placeholder);
      let items = 0;
      for (;;) {
        const key = r.string();
        if (key === '') break;
        if (++items > r.limits.maxItems)
          throw new MediaError('RC_AMF_TOO_LONG', 'AMF3: too many array members');
        hasAssoc = true;
        setMember(assoc, key, value(r, depth + 1));
      }
      r.need(dense);
      for (let i = 0; i < dense; i++) placeholder.push(value(r, depth + 1));
      r.open.delete(placeholder);
      if (hasAssoc && dense === 0) {
        r.objects[slot] = assoc;
        return assoc;
      }
      return placeholder;
    }
    case 0x0a: {
      // object (3.12)
      const h = r.u29();
      if (!(h & 1)) return r.objectRef(h);
      let traits: Traits;
      if (!(h & 2)) {
        const t = r.traits[h >> 2];
        if (!t) throw new MediaError('RC_AMF_BAD_REFERENCE', `AMF3: traits reference ${h >> 2}`);
        traits = t;
      } else if (h & 4) {
        throw new MediaError('RC_AMF_UNSUPPORTED', 'AMF3: externalizable objects are not supported');
      } else {
        const count = h >> 4;
        if (count > r.limits.maxItems)
          throw new MediaError('RC_AMF_TOO_LONG', `AMF3: ${count} sealed members`);
        traits = { className: r.string(), dynamic: !!(h & 8), externalizable: false, sealed: [] };
        for (let i = 0; i < count; i++) traits.sealed.push(r.string());
        r.traits.push(traits);
      }
      const obj: AmfObject = {};
      r.objects.push(obj);
      r.open.add(obj);
      for (const k of traits.sealed) setMember(obj, k, value(r, depth + 1));
      if (traits.dynamic) {
        let items = 0;
        for (;;) {
          const key = r.string();
          if (key === '') break;
          if (++items > r.limits.maxItems)
            throw new MediaError('RC_AMF_TOO_LONG', 'AMF3: too many dynamic members');
          setMember(obj, key, value(r, depth + 1));
        }
      }
      r.open.delete(obj);
      return obj;
    }
    case 0x0c: {
      // ByteArray: skipped (no AmfValue for raw bytes)
      const h = r.u29();
      if (!(h & 1)) return r.objectRef(h);
      r.bytes(h >> 1);
      r.objects.push(undefined);
      return undefined;
    }
    default:
      throw new MediaError('RC_AMF_BAD_MARKER', `AMF3: unsupported marker 0x${marker.toString(16)}`);
  }
}

export function decodeAmf3(
  buf: Buffer,
  offset: number,
  limits: AmfLimits,
): { value: AmfValue; offset: number } {
  const r = new Reader3(buf, offset, limits);
  const v = value(r, 0);
  return { value: v, offset: r.pos };
}
