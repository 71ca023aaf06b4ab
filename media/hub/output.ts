/**
 * Serialisation of hub tags into the bytes a viewer's socket receives. Each function builds ONE
 * buffer for a run of tags; the hub calls it once per cohort per flush and every viewer of the
 * cohort writes that same buffer (never a serialisation per viewer).
 */

import { flvFileHeader } from '../flv/tag.ts';
import { ChunkWriter } from '../rtmp/chunk.ts';
import { type MediaTag, TAG_AUDIO, TAG_VIDEO } from '../tag.ts';

/**
 * - `flv`: raw FLV tags (HTTP/1.0 close-delimited bodies, edge pulls that read the socket raw)
 * - `flv-chunked`: the same tags inside one HTTP/1.1 chunk (RFC 9112 7.1) so the framing is shared too
 * - `rtmp`: RTMP chunk stream messages (fmt 0 headers, so no per-viewer delta state is needed)
 */
export type OutputFormat = 'flv' | 'flv-chunked' | 'rtmp';

/** Outgoing RTMP chunk size the play side announces with Set Chunk Size before any media. */
export const RTMP_OUT_CHUNK_SIZE = 4096;
// Chunk stream ids for media on the play side (any id ≥ 3 is legal; these match common servers).
export const RTMP_CSID_DATA = 5;
export const RTMP_CSID_AUDIO = 4;
export const RTMP_CSID_VIDEO = 6;

const rtmpWriter = new ChunkWriter();
rtmpWriter.chunkSize = RTMP_OUT_CHUNK_SIZE;

function csidFor(tag: MediaTag): number {
  if (tag.type === TAG_AUDIO) return RTMP_CSID_AUDIO;
  if (tag.type === TAG_VIDEO) return RTMP_CSID_VIDEO;
  return RTMP_CSID_DATA;
}

/** Maps a stream-timeline timestamp into a cohort's timeline (starts near 0, never negative). */
function rebase(ts: number, offset: number): number {
  const t = ts - offset;
  return Math.max(t, 0);
}

function flvBodyLength(tags: readonly MediaTag[], from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n += 15 + tags[i]!.data.length; // E.4.1: 11-byte tag header + body + 4-byte PreviousTagSize
  return n;
}

function writeFlvTagAt(buf: Buffer, off: number, tag: MediaTag, ts: number): number {
  const len = tag.data.length;
  // FLV spec E.4.1: TagType UI8, DataSize UI24, Timestamp UI24, TimestampExtended UI8, StreamID UI24 (0)
  buf[off] = tag.type;
  buf.writeUIntBE(len, off + 1, 3);
  buf.writeUIntBE(ts & 0xffffff, off + 4, 3);
  buf[off + 7] = (ts >>> 24) & 0xff;
  buf.writeUIntBE(0, off + 8, 3);
  tag.data.copy(buf, off + 11);
  buf.writeUInt32BE(len + 11, off + 11 + len); // PreviousTagSize
  return off + 15 + len;
}

/** One serialised run of tags. `prefix` (FLV file header) goes inside the same chunk when chunked. */
export function serializeTags(
  format: OutputFormat,
  tags: readonly MediaTag[],
  from: number,
  to: number,
  offset: number,
  rtmpStreamId: number,
  prefix?: Buffer,
): Buffer {
  if (format === 'rtmp') {
    let total = prefix ? prefix.length : 0;
    for (let i = from; i < to; i++) {
      const tag = tags[i]!;
      total += rtmpWriter.encodedLength(tag.data.length, csidFor(tag), rebase(tag.timestamp, offset));
    }
    const buf = Buffer.allocUnsafe(total);
    let off = prefix ? prefix.copy(buf, 0) : 0;
    for (let i = from; i < to; i++) {
      const tag = tags[i]!;
      off = rtmpWriter.encodeInto(buf, off, {
        csid: csidFor(tag),
        typeId: tag.type,
        streamId: rtmpStreamId,
        timestamp: rebase(tag.timestamp, offset),
        payload: tag.data,
      });
    }
    return buf;
  }
  const payloadLength = (prefix ? prefix.length : 0) + flvBodyLength(tags, from, to);
  let sizeLine = '';
  let total = payloadLength;
  if (format === 'flv-chunked') {
    if (payloadLength === 0) return Buffer.alloc(0); // a zero-length chunk would end the HTTP body
    sizeLine = `${payloadLength.toString(16)}\r\n`;
    total += sizeLine.length + 2;
  }
  const buf = Buffer.allocUnsafe(total);
  let off = sizeLine ? buf.write(sizeLine, 0, 'latin1') : 0;
  if (prefix) off += prefix.copy(buf, off);
  for (let i = from; i < to; i++) {
    const tag = tags[i]!;
    off = writeFlvTagAt(buf, off, tag, rebase(tag.timestamp, offset));
  }
  if (sizeLine) {
    buf[off++] = 0x0d;
    buf[off++] = 0x0a;
  }
  return buf;
}

export function flvHeaderFor(hasAudio: boolean, hasVideo: boolean): Buffer {
  return flvFileHeader(hasAudio, hasVideo);
}

/** The terminating chunk of an HTTP/1.1 chunked body. */
export const HTTP_LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
