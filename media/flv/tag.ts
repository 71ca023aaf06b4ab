/** FLV file header and tags (Adobe FLV spec v10.1, E.2 and E.4.1). */
export const FLV_TAG_HEADER_BYTES = 11;
export const FLV_PREVIOUS_TAG_SIZE_BYTES = 4;

/** E.2: 'FLV', version 1, TypeFlags (audio 0x04, video 0x01), DataOffset 9, then PreviousTagSize0 = 0. */
export function flvFileHeader(hasAudio: boolean, hasVideo: boolean): Buffer {
  const b = Buffer.alloc(13);
  b.write('FLV', 0, 'latin1');
  b[3] = 1;
  b[4] = (hasAudio ? 0x04 : 0) | (hasVideo ? 0x01 : 0);
  b.writeUInt32BE(9, 5);
  return b;
}

export function flvTagBytes(bodyLength: number): number {
  return FLV_TAG_HEADER_BYTES + bodyLength + FLV_PREVIOUS_TAG_SIZE_BYTES;
}

export function writeFlvTag(
  target: Buffer,
  offset: number,
  type: number,
  timestamp: number,
  body: Buffer,
): number {
  const ts = timestamp >>> 0;
  // E.4.1: TagType UI8, DataSize UI24, Timestamp UI24 (low bits), TimestampExtended UI8 (high), StreamID UI24 = 0
  target[offset] = type;
  target.writeUIntBE(body.length, offset + 1, 3);
  target.writeUIntBE(ts & 0xffffff, offset + 4, 3);
  target[offset + 7] = ts >>> 24;
  target.writeUIntBE(0, offset + 8, 3);
  body.copy(target, offset + 11);
  target.writeUInt32BE(body.length + 11, offset + 11 + body.length);
  return offset + flvTagBytes(body.length);
}

export function encodeFlvTag(type: number, timestamp: number, body: Buffer): Buffer {
  const b = Buffer.allocUnsafe(flvTagBytes(body.length));
  writeFlvTag(b, 0, type, timestamp, body);
  return b;
}
