/**
 * RTMP chunk stream (Adobe RTMP spec 5.3). The reader reassembles messages from chunks in any
 * split, copying each chunk's payload straight into a buffer of the message's declared length (no
 * per-chunk concatenation). It applies Set Chunk Size and Abort at their exact position in the byte
 * stream, as the spec requires.
 */
import { MediaError } from '../errors.ts';

export interface RtmpMessage {
  csid: number;
  typeId: number;
  streamId: number;
  timestamp: number;
  payload: Buffer;
}

export interface ChunkReaderLimits {
  maxMessageBytes: number;
  maxChunkSize: number;
  maxChunkStreams: number;
}

export const DEFAULT_CHUNK_READER_LIMITS: ChunkReaderLimits = {
  maxMessageBytes: 16 * 1024 * 1024,
  maxChunkSize: 16 * 1024 * 1024,
  maxChunkStreams: 64,
};

const MSG_HEADER_BYTES = [11, 7, 3, 0]; // 5.3.1.2: by fmt
const EXTENDED = 0xffffff;

interface ChunkStreamState {
  timestamp: number;
  delta: number;
  length: number;
  typeId: number;
  streamId: number;
  extended: boolean;
  /** Value of the last extended timestamp field (5.3.1.3), to recognise it when a type 3 chunk repeats it. */
  extendedField: number;
  hasHeader: boolean;
  /** Message being reassembled, if any. */
  buf: Buffer | undefined;
  received: number;
}

export class ChunkReader {
  private readonly limits: ChunkReaderLimits;
  private readonly streams = new Map<number, ChunkStreamState>();
  private readonly hdr = Buffer.alloc(18); // max 3 basic + 11 message + 4 extended
  /** The 4 bytes after a type 3 basic header that turned out to be payload, fed again. */
  private readonly replay = Buffer.alloc(4);
  private hdrLen = 0;
  private cur: ChunkStreamState | undefined;
  private curCsid = 0;
  /** Payload bytes still expected for the chunk being read. */
  private payloadLeft = 0;
  private error: MediaError | undefined;
  chunkSize = 128;
  bytesReceived = 0;

  constructor(limits?: Partial<ChunkReaderLimits>) {
    this.limits = { ...DEFAULT_CHUNK_READER_LIMITS, ...limits };
  }

  push(chunk: Buffer): RtmpMessage[] {
    if (this.error) throw this.error;
    try {
      return this.parse(chunk);
    } catch (err) {
      this.error =
        err instanceof MediaError ? err : new MediaError('RC_RTMP_BAD_CHUNK', String(err), { cause: err });
      throw this.error;
    }
  }

  private parse(chunk: Buffer): RtmpMessage[] {
    const out: RtmpMessage[] = [];
    this.bytesReceived += chunk.length;
    this.feed(chunk, 0, chunk.length, out);
    return out;
  }

  /**
   * Reads chunks from chunk[pos..len). Re-entered at most one level deep, for the 4 replayed bytes
   * of a type 3 chunk without a repeated extended timestamp: at least one of them is payload (a
   * continuation chunk has ≥ 1 byte left), so the rest cannot complete another such header.
   */
  private feed(chunk: Buffer, start: number, len: number, out: RtmpMessage[]): void {
    let pos = start;
    while (pos < len) {
      if (this.payloadLeft > 0) {
        const cur = this.cur!;
        const n = Math.min(this.payloadLeft, len - pos);
        chunk.copy(cur.buf!, cur.received, pos, pos + n);
        cur.received += n;
        this.payloadLeft -= n;
        pos += n;
        if (this.payloadLeft === 0 && cur.received === cur.length) this.complete(cur, out);
        continue;
      }
      // Accumulate the chunk header (5.3.1): basic header, then the message header for its fmt.
      if (this.hdrLen === 0) this.hdr[this.hdrLen++] = chunk[pos++]!;
      const b0 = this.hdr[0]!;
      const fmt = b0 >> 6;
      const low = b0 & 0x3f;
      const basic = low === 0 ? 2 : low === 1 ? 3 : 1;
      let need = basic + MSG_HEADER_BYTES[fmt]!;
      while (this.hdrLen < need && pos < len) this.hdr[this.hdrLen++] = chunk[pos++]!;
      if (this.hdrLen < need) break;
      const csid = low === 0 ? 64 + this.hdr[1]! : low === 1 ? 64 + this.hdr[1]! + this.hdr[2]! * 256 : low;
      const state = this.state(csid, fmt);
      const field = fmt < 3 ? this.hdr.readUIntBE(basic, 3) : 0;
      const extended = fmt < 3 ? field === EXTENDED : state.extended;
      if (extended) need += 4;
      while (this.hdrLen < need && pos < len) this.hdr[this.hdrLen++] = chunk[pos++]!;
      if (this.hdrLen < need) break;
      this.hdrLen = 0;
      const ext = extended ? this.hdr.readUInt32BE(need - 4) : 0;
      if (fmt === 3 && extended && state.buf && ext !== state.extendedField) {
        // A continuation chunk of a message whose header carried an extended timestamp. Adobe's
        // spec (5.3.1.3) repeats the field here, and ffmpeg, OBS and SRS do; older librtmp-based
        // encoders omit it. As SRS does, the 4 bytes are taken as the repeated field only if they
        // equal the stored one; otherwise they are the chunk's first payload bytes and are fed
        // again (they may run past this chunk's payload into the next chunk's header).
        this.hdr.copy(this.replay, 0, need - 4, need);
        this.onHeader(state, csid, fmt, basic, 0, extended, out);
        this.feed(this.replay, 0, 4, out);
        continue;
      }
      this.onHeader(state, csid, fmt, basic, extended ? ext : field, extended, out);
    }
  }

  private state(csid: number, fmt: number): ChunkStreamState {
    let s = this.streams.get(csid);
    if (!s) {
      if (fmt !== 0)
        throw new MediaError(
          'RC_RTMP_BAD_CHUNK',
          `RTMP: chunk type ${fmt} on chunk stream ${csid} with no previous header`,
        );
      if (this.streams.size >= this.limits.maxChunkStreams)
        throw new MediaError(
          'RC_RTMP_TOO_MANY_CHUNK_STREAMS',
          `RTMP: more than ${this.limits.maxChunkStreams} chunk streams`,
        );
      s = {
        timestamp: 0,
        delta: 0,
        length: 0,
        typeId: 0,
        streamId: 0,
        extended: false,
        extendedField: 0,
        hasHeader: false,
        buf: undefined,
        received: 0,
      };
      this.streams.set(csid, s);
    }
    return s;
  }

  private onHeader(
    s: ChunkStreamState,
    csid: number,
    fmt: number,
    basic: number,
    tsField: number,
    extended: boolean,
    out: RtmpMessage[],
  ): void {
    const h = this.hdr;
    if (fmt < 3) {
      s.extended = extended;
      if (extended) s.extendedField = tsField;
    }
    if (fmt === 0) {
      // 5.3.1.2.1: absolute timestamp, length, type id, message stream id (little-endian)
      s.timestamp = tsField;
      s.delta = tsField;
      s.length = h.readUIntBE(basic + 3, 3);
      s.typeId = h[basic + 6]!;
      s.streamId = h.readUInt32LE(basic + 7);
    } else if (fmt === 1) {
      // 5.3.1.2.2: delta, length, type id; same stream id
      s.delta = tsField;
      s.length = h.readUIntBE(basic + 3, 3);
      s.typeId = h[basic + 6]!;
    } else if (fmt === 2) {
      s.delta = tsField; // 5.3.1.2.3
    }
    s.hasHeader = true;
    if (s.buf && fmt !== 3) {
      // A new header while a message was half received: the peer abandoned it.
      s.buf = undefined;
    }
    if (!s.buf) {
      if (fmt === 1 || fmt === 2 || fmt === 3) s.timestamp = (s.timestamp + s.delta) >>> 0;
      if (s.length > this.limits.maxMessageBytes)
        throw new MediaError(
          'RC_RTMP_MESSAGE_TOO_LARGE',
          `RTMP: message of ${s.length} bytes exceeds ${this.limits.maxMessageBytes}`,
        );
      s.buf = Buffer.allocUnsafe(s.length);
      s.received = 0;
    }
    this.cur = s;
    this.curCsid = csid;
    this.payloadLeft = Math.min(this.chunkSize, s.length - s.received);
    if (this.payloadLeft === 0) this.complete(s, out);
  }

  private complete(s: ChunkStreamState, out: RtmpMessage[]): void {
    const payload = s.buf!;
    s.buf = undefined;
    s.received = 0;
    const msg: RtmpMessage = {
      csid: this.curCsid,
      typeId: s.typeId,
      streamId: s.streamId,
      timestamp: s.timestamp,
      payload,
    };
    if (msg.typeId === 1) {
      // 5.4.1 Set Chunk Size: 31 bits
      if (payload.length < 4)
        throw new MediaError('RC_RTMP_CHUNK_SIZE', 'RTMP: short Set Chunk Size message');
      const size = payload.readUInt32BE(0) & 0x7fffffff;
      if (size < 1 || size > this.limits.maxChunkSize)
        throw new MediaError(
          'RC_RTMP_CHUNK_SIZE',
          `RTMP: chunk size ${size} outside 1..${this.limits.maxChunkSize}`,
        );
      this.chunkSize = size;
    } else if (msg.typeId === 2) {
      // 5.4.2 Abort Message: drop the partial message on that chunk stream
      if (payload.length >= 4) {
        const target = this.streams.get(payload.readUInt32BE(0));
        if (target) {
          target.buf = undefined;
          target.received = 0;
        }
      }
    }
    out.push(msg);
  }
}

function basicHeaderBytes(csid: number): number {
  if (csid < 2 || csid > 65599)
    throw new MediaError('RC_RTMP_BAD_CHUNK', `RTMP: chunk stream id ${csid} out of range`);
  return csid < 64 ? 1 : csid < 320 ? 2 : 3;
}

function writeBasic(buf: Buffer, off: number, fmt: number, csid: number): number {
  if (csid < 64) {
    buf[off] = (fmt << 6) | csid;
    return off + 1;
  }
  if (csid < 320) {
    buf[off] = fmt << 6;
    buf[off + 1] = csid - 64;
    return off + 2;
  }
  buf[off] = (fmt << 6) | 1;
  buf[off + 1] = (csid - 64) & 0xff;
  buf[off + 2] = (csid - 64) >> 8;
  return off + 3;
}

/** Writes messages as chunks: fmt 0 for each message's first chunk, fmt 3 for continuations. */
export class ChunkWriter {
  chunkSize = 128;

  encodedLength(payloadLength: number, csid: number, timestamp: number): number {
    const basic = basicHeaderBytes(csid);
    const ext = timestamp >= EXTENDED ? 4 : 0;
    const chunks = Math.max(1, Math.ceil(payloadLength / this.chunkSize));
    return basic + 11 + ext + payloadLength + (chunks - 1) * (basic + ext);
  }

  encode(msg: RtmpMessage): Buffer {
    const buf = Buffer.allocUnsafe(this.encodedLength(msg.payload.length, msg.csid, msg.timestamp));
    this.encodeInto(buf, 0, msg);
    return buf;
  }

  encodeInto(target: Buffer, offset: number, msg: RtmpMessage): number {
    const ts = msg.timestamp >>> 0;
    const extended = ts >= EXTENDED;
    let off = writeBasic(target, offset, 0, msg.csid);
    // 5.3.1.2.1: type 0 message header
    target.writeUIntBE(extended ? EXTENDED : ts, off, 3);
    target.writeUIntBE(msg.payload.length, off + 3, 3);
    target[off + 6] = msg.typeId;
    target.writeUInt32LE(msg.streamId >>> 0, off + 7);
    off += 11;
    if (extended) off = target.writeUInt32BE(ts, off);
    const payload = msg.payload;
    let pos = 0;
    for (;;) {
      const n = Math.min(this.chunkSize, payload.length - pos);
      payload.copy(target, off, pos, pos + n);
      off += n;
      pos += n;
      if (pos >= payload.length) break;
      off = writeBasic(target, off, 3, msg.csid);
      // ffmpeg and librtmp repeat the extended timestamp on type 3 chunks (5.3.1.3)
      if (extended) off = target.writeUInt32BE(ts, off);
    }
    return off;
  }
}
