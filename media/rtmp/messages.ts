/**
 * RTMP message type ids (spec 5.4, 6.2, 7.1) and builders for protocol control and user control
 * messages. Control messages travel on chunk stream 2, message stream 0.
 */
import { MediaError } from '../errors.ts';
import type { RtmpMessage } from './chunk.ts';

export const SET_CHUNK_SIZE = 1;
export const ABORT = 2;
export const ACK = 3;
export const USER_CONTROL = 4;
export const WINDOW_ACK_SIZE = 5;
export const SET_PEER_BANDWIDTH = 6;
export const AUDIO = 8;
export const VIDEO = 9;
export const DATA_AMF3 = 15;
export const SHARED_OBJECT_AMF3 = 16;
export const COMMAND_AMF3 = 17;
export const DATA_AMF0 = 18;
export const SHARED_OBJECT_AMF0 = 19;
export const COMMAND_AMF0 = 20;
export const AGGREGATE = 22;

// 6.2 / 7.1.7: user control event types
export const STREAM_BEGIN = 0;
export const STREAM_EOF = 1;
export const STREAM_DRY = 2;
export const SET_BUFFER_LENGTH = 3;
export const STREAM_IS_RECORDED = 4;
export const PING_REQUEST = 6;
export const PING_RESPONSE = 7;

function control(typeId: number, payload: Buffer): RtmpMessage {
  return { csid: 2, typeId, streamId: 0, timestamp: 0, payload };
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

export const setChunkSizeMessage = (n: number) => control(SET_CHUNK_SIZE, u32(n & 0x7fffffff));
export const abortMessage = (csid: number) => control(ABORT, u32(csid));
export const acknowledgementMessage = (seq: number) => control(ACK, u32(seq));
export const windowAckSizeMessage = (n: number) => control(WINDOW_ACK_SIZE, u32(n));

export function setPeerBandwidthMessage(n: number, limitType: 0 | 1 | 2): RtmpMessage {
  const b = Buffer.allocUnsafe(5);
  b.writeUInt32BE(n >>> 0, 0);
  b[4] = limitType;
  return control(SET_PEER_BANDWIDTH, b);
}

export function userControlMessage(event: number, value: number, extra?: number): RtmpMessage {
  const b = Buffer.allocUnsafe(extra === undefined ? 6 : 10);
  b.writeUInt16BE(event, 0);
  b.writeUInt32BE(value >>> 0, 2);
  if (extra !== undefined) b.writeUInt32BE(extra >>> 0, 6);
  return control(USER_CONTROL, b);
}

export const streamBeginMessage = (streamId: number) => userControlMessage(STREAM_BEGIN, streamId);
export const streamEofMessage = (streamId: number) => userControlMessage(STREAM_EOF, streamId);
export const pingRequestMessage = (ts: number) => userControlMessage(PING_REQUEST, ts);
export const pingResponseMessage = (ts: number) => userControlMessage(PING_RESPONSE, ts);

export function parseUserControl(payload: Buffer): { event: number; value: number; extra?: number } {
  if (payload.length < 6) throw new MediaError('RC_RTMP_BAD_CHUNK', 'RTMP: short user control message');
  const event = payload.readUInt16BE(0);
  const value = payload.readUInt32BE(2);
  return payload.length >= 10 ? { event, value, extra: payload.readUInt32BE(6) } : { event, value };
}

export function parseUint32Payload(payload: Buffer): number {
  if (payload.length < 4) throw new MediaError('RC_RTMP_BAD_CHUNK', 'RTMP: short protocol control message');
  return payload.readUInt32BE(0);
}

export function parseSetPeerBandwidth(payload: Buffer): { size: number; limitType: number } {
  if (payload.length < 5) throw new MediaError('RC_RTMP_BAD_CHUNK', 'RTMP: short Set Peer Bandwidth message');
  return { size: payload.readUInt32BE(0), limitType: payload[4]! };
}

/**
 * 7.1.6 Aggregate message: a run of FLV-style tags (11-byte header, body, 4-byte back pointer).
 * Sub-message timestamps are rebased so the first one equals the aggregate's timestamp.
 */
export function splitAggregate(msg: RtmpMessage): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  const p = msg.payload;
  let pos = 0;
  let base: number | undefined;
  while (pos + 11 <= p.length) {
    const typeId = p[pos]!;
    const size = p.readUIntBE(pos + 1, 3);
    const ts = (p.readUIntBE(pos + 4, 3) | (p[pos + 7]! << 24)) >>> 0;
    if (pos + 11 + size > p.length)
      throw new MediaError('RC_RTMP_BAD_CHUNK', 'RTMP: truncated aggregate message');
    base ??= ts;
    out.push({
      csid: msg.csid,
      typeId,
      streamId: msg.streamId,
      timestamp: (msg.timestamp + ts - base) >>> 0,
      payload: p.subarray(pos + 11, pos + 11 + size),
    });
    pos += 11 + size + 4;
  }
  return out;
}
