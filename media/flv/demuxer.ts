/**
 * Streaming FLV reader (Adobe FLV spec v10.1 E.2–E.4): bytes in any split, tags out. Used by edges
 * to read an origin's HTTP-FLV pull, and by tests and benchmarks to read viewers' streams.
 */
import { MediaError } from '../errors.ts';
import { type MediaTag, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO } from '../tag.ts';

export interface FlvDemuxerLimits {
  maxTagBytes: number;
}

export interface FlvHeaderInfo {
  hasAudio: boolean;
  hasVideo: boolean;
}

export class FlvDemuxer {
  private readonly limits: FlvDemuxerLimits;
  /**
   * Bytes received and not yet consumed, as the chunks they came in (the first from `head`). A
   * keyframe arrives in many socket reads; joining pending bytes to every new chunk made reading
   * it quadratic in its size, so a tag is copied out once, when all of it is here.
   */
  private chunks: Buffer[] = [];
  /** Index of the first chunk still queued (consumed ones are dropped in batches), offset in it. */
  private first = 0;
  private head = 0;
  private queued = 0;
  private error: MediaError | undefined;
  header: FlvHeaderInfo | undefined;
  private headerSkip = 0;
  bytesReceived = 0;

  constructor(limits?: Partial<FlvDemuxerLimits>) {
    this.limits = { maxTagBytes: 16 * 1024 * 1024, ...limits };
  }

  push(chunk: Buffer): MediaTag[] {
    if (this.error) throw this.error;
    this.bytesReceived += chunk.length;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.queued += chunk.length;
    }
    const out: MediaTag[] = [];
    try {
      if (!this.header) {
        if (this.queued < 9) {
          if (this.queued >= 3 && this.peek(3).toString('latin1') !== 'FLV') throw this.bad();
          return out;
        }
        const head = this.peek(9);
        if (head.toString('latin1', 0, 3) !== 'FLV') throw this.bad();
        const dataOffset = head.readUInt32BE(5);
        if (dataOffset < 9 || dataOffset > 1024)
          throw new MediaError('RC_FLV_BAD_HEADER', `FLV: DataOffset ${dataOffset}`);
        this.header = { hasAudio: !!(head[4]! & 0x04), hasVideo: !!(head[4]! & 0x01) };
        this.headerSkip = dataOffset + 4; // header + PreviousTagSize0
      }
      if (this.headerSkip > 0) this.headerSkip -= this.consume(this.headerSkip);
      while (this.headerSkip === 0 && this.queued >= 11) {
        const h = this.peek(11);
        const type = h[0]!;
        if (type & 0x20)
          throw new MediaError('RC_FLV_BAD_TAG', 'FLV: filtered (encrypted) tags are not supported');
        const size = h.readUIntBE(1, 3);
        if (size > this.limits.maxTagBytes)
          throw new MediaError(
            'RC_FLV_TAG_TOO_LARGE',
            `FLV: tag of ${size} bytes exceeds ${this.limits.maxTagBytes}`,
          );
        if (this.queued < 11 + size + 4) break;
        const ts = (h.readUIntBE(4, 3) | (h[7]! << 24)) >>> 0;
        const tagType = type & 0x1f;
        this.consume(11);
        if (tagType === TAG_AUDIO || tagType === TAG_VIDEO || tagType === TAG_SCRIPT) {
          // A copy: the body must not alias (and keep alive) the socket's chunk.
          const data = Buffer.allocUnsafe(size);
          this.consume(size, data);
          out.push({ type: tagType, timestamp: ts, data });
        } else this.consume(size);
        this.consume(4); // PreviousTagSize
      }
    } catch (err) {
      this.error =
        err instanceof MediaError ? err : new MediaError('RC_FLV_BAD_TAG', String(err), { cause: err });
      throw this.error;
    }
    return out;
  }

  /** The first `n` queued bytes (n ≤ queued), without consuming them; a view when in one chunk. */
  private peek(n: number): Buffer {
    const first = this.chunks[this.first]!;
    if (first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    for (let i = this.first, from = this.head; filled < n; i++, from = 0) {
      const c = this.chunks[i]!;
      filled += c.copy(out, filled, from, Math.min(c.length, from + n - filled));
    }
    return out;
  }

  /** Drops up to `n` queued bytes, copying them into `into` when given; returns how many. */
  private consume(n: number, into?: Buffer): number {
    let done = 0;
    while (done < n && this.first < this.chunks.length) {
      const c = this.chunks[this.first]!;
      const take = Math.min(n - done, c.length - this.head);
      if (into) c.copy(into, done, this.head, this.head + take);
      done += take;
      this.head += take;
      if (this.head === c.length) {
        this.first++;
        this.head = 0;
      }
    }
    // Drop consumed chunks in batches: shifting one at a time is quadratic with many tiny reads.
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first >= 64) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
    this.queued -= done;
    return done;
  }

  private bad(): MediaError {
    return new MediaError('RC_FLV_BAD_HEADER', 'FLV: stream does not start with an FLV header');
  }
}
