/**
 * NetConnection / NetStream command messages (RTMP spec 7.2) and the standard replies, shaped like
 * the ones SRS and nginx-rtmp send so OBS, ffmpeg, librtmp tools and hardware encoders accept them.
 */
import {
  type AmfEcmaArray,
  type AmfLimits,
  type AmfObject,
  type AmfValue,
  decodeAmf0,
  encodeAmf0,
} from '../amf/amf0.ts';
import { MediaError } from '../errors.ts';
import type { RtmpMessage } from './chunk.ts';
import { COMMAND_AMF0, COMMAND_AMF3, DATA_AMF0, DATA_AMF3 } from './messages.ts';

export interface RtmpCommand {
  name: string;
  transactionId: number;
  commandObject: AmfValue;
  args: AmfValue[];
}

type Encodable = AmfValue | AmfEcmaArray;

export function decodeCommand(msg: RtmpMessage, limits?: Partial<AmfLimits>): RtmpCommand {
  // Type 17 (AMF3 command) starts with a format byte 0, then AMF0 values (0x11 switches to AMF3).
  const body = msg.typeId === COMMAND_AMF3 && msg.payload[0] === 0 ? msg.payload.subarray(1) : msg.payload;
  const values = decodeAmf0(body, limits);
  const [name, tx, obj, ...args] = values;
  if (typeof name !== 'string') throw new MediaError('RC_RTMP_BAD_COMMAND', 'RTMP: command without a name');
  if (typeof tx !== 'number' && values.length > 1)
    throw new MediaError('RC_RTMP_BAD_COMMAND', `RTMP: command ${name} without a transaction id`);
  return { name, transactionId: typeof tx === 'number' ? tx : 0, commandObject: obj ?? null, args };
}

export function encodeCommand(
  csid: number,
  streamId: number,
  name: string,
  transactionId: number,
  commandObject: Encodable,
  ...args: Encodable[]
): RtmpMessage {
  return {
    csid,
    typeId: COMMAND_AMF0,
    streamId,
    timestamp: 0,
    payload: encodeAmf0([name, transactionId, commandObject, ...args]),
  };
}

export function decodeDataMessage(msg: RtmpMessage, limits?: Partial<AmfLimits>): AmfValue[] {
  const body = msg.typeId === DATA_AMF3 && msg.payload[0] === 0 ? msg.payload.subarray(1) : msg.payload;
  return decodeAmf0(body, limits);
}

export function encodeDataMessage(
  csid: number,
  streamId: number,
  timestamp: number,
  ...values: Encodable[]
): RtmpMessage {
  return { csid, typeId: DATA_AMF0, streamId, timestamp, payload: encodeAmf0(values) };
}

export function connectResult(
  transactionId: number,
  options?: { objectEncoding?: number; fmsVer?: string },
): RtmpMessage {
  return encodeCommand(
    3,
    0,
    '_result',
    transactionId,
    { fmsVer: options?.fmsVer ?? 'FMS/3,0,1,123', capabilities: 31 },
    {
      level: 'status',
      code: 'NetConnection.Connect.Success',
      description: 'Connection succeeded.',
      objectEncoding: options?.objectEncoding ?? 0,
    },
  );
}

export function createStreamResult(transactionId: number, streamId: number): RtmpMessage {
  return encodeCommand(3, 0, '_result', transactionId, null, streamId);
}

export function onStatus(
  streamId: number,
  level: 'status' | 'error' | 'warning',
  code: string,
  description: string,
  extra?: AmfObject,
): RtmpMessage {
  return encodeCommand(5, streamId, 'onStatus', 0, null, { level, code, description, ...extra });
}

export function errorResult(transactionId: number, code: string, description: string): RtmpMessage {
  return encodeCommand(3, 0, '_error', transactionId, null, { level: 'error', code, description });
}

export function simpleResult(transactionId: number, ...args: AmfValue[]): RtmpMessage {
  return encodeCommand(3, 0, '_result', transactionId, null, ...args);
}

export function sampleAccessMessage(streamId: number): RtmpMessage {
  return encodeDataMessage(5, streamId, 0, '|RtmpSampleAccess', true, true);
}
