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
  private pending: Buffer = Buffer.alloc(0);
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
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: MediaTag[] = [];
    let pos = 0;
    try {
      if (!this.header) {
        if (buf.length < 9) {
          if (buf.length >= 3 && buf.toString('latin1', 0, 3) !== 'FLV') throw this.bad();
          this.pending = Buffer.from(buf);
          return out;
        }
        if (buf.toString('latin1', 0, 3) !== 'FLV') throw this.bad();
        const dataOffset = buf.readUInt32BE(5);
        if (dataOffset < 9 || dataOffset > 1024)
          throw new MediaError('RC_FLV_BAD_HEADER', `FLV: DataOffset ${dataOffset}`);
        this.header = { hasAudio: !!(buf[4]! & 0x04), hasVideo: !!(buf[4]! & 0x01) };
        this.headerSkip = dataOffset + 4; // header + PreviousTagSize0
      }
      if (this.headerSkip > 0) {
        const n = Math.min(this.headerSkip, buf.length - pos);
        pos += n;
        this.headerSkip -= n;
      }
      while (this.headerSkip === 0 && buf.length - pos >= 11) {
        const type = buf[pos]!;
        if (type & 0x20)
          throw new MediaError('RC_FLV_BAD_TAG', 'FLV: filtered (encrypted) tags are not supported');
        const size = buf.readUIntBE(pos + 1, 3);
        if (size > this.limits.maxTagBytes)
          throw new MediaError(
            'RC_FLV_TAG_TOO_LARGE',
            `FLV: tag of ${size} bytes exceeds ${this.limits.maxTagBytes}`,
          );
        if (buf.length - pos < 11 + size + 4) break;
        const ts = (buf.readUIntBE(pos + 4, 3) | (buf[pos + 7]! << 24)) >>> 0;
        const tagType = type & 0x1f;
        if (tagType === TAG_AUDIO || tagType === TAG_VIDEO || tagType === TAG_SCRIPT) {
          // Copy: the body must not alias a buffer we keep or the caller reuses.
          out.push({
            type: tagType,
            timestamp: ts,
            data: Buffer.from(buf.subarray(pos + 11, pos + 11 + size)),
          });
        }
        pos += 11 + size + 4;
      }
    } catch (err) {
      this.error =
        err instanceof MediaError ? err : new MediaError('RC_FLV_BAD_TAG', String(err), { cause: err });
      throw this.error;
    }
    this.pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : Buffer.alloc(0);
    return out;
  }

  private bad(): MediaError {
    return new MediaError('RC_FLV_BAD_HEADER', 'FLV: stream does not start with an FLV header');
  }
}
