/**
 * Typed errors for everything under media/. Parsers throw only MediaError; any other exception
 * escaping a parser is a bug (the fuzz tests assert this). Codes are stable: logs, metric labels
 * and API responses use them.
 */
export type MediaErrorCode =
  // AMF
  | 'RC_AMF_TRUNCATED'
  | 'RC_AMF_BAD_MARKER'
  | 'RC_AMF_TOO_DEEP'
  | 'RC_AMF_TOO_LONG'
  | 'RC_AMF_BAD_REFERENCE'
  | 'RC_AMF_UNSUPPORTED'
  // RTMP
  | 'RC_RTMP_BAD_VERSION'
  | 'RC_RTMP_HANDSHAKE_FAILED'
  | 'RC_RTMP_CHUNK_SIZE'
  | 'RC_RTMP_MESSAGE_TOO_LARGE'
  | 'RC_RTMP_BAD_CHUNK'
  | 'RC_RTMP_TOO_MANY_CHUNK_STREAMS'
  | 'RC_RTMP_BAD_COMMAND'
  // RTMP client (media/rtmp/client.ts): a server we connect to
  | 'RC_RTMP_CONNECT_FAILED'
  | 'RC_RTMP_TIMEOUT'
  | 'RC_RTMP_REJECTED'
  | 'RC_RTMP_CLOSED'
  // FLV and codecs
  | 'RC_FLV_BAD_HEADER'
  | 'RC_FLV_BAD_TAG'
  | 'RC_FLV_TAG_TOO_LARGE'
  | 'RC_CODEC_TRUNCATED'
  | 'RC_CODEC_INVALID'
  | 'RC_CODEC_UNSUPPORTED'
  // MPEG-TS / HLS
  | 'RC_TS_INVALID_INPUT'
  // Lifecycle: a method called on an object that is already closed (media/lifecycle.ts)
  | 'RC_INVALID_STATE'
  // MPEG-TS demuxer (ingest): every one is counted per source, none stops the stream
  | 'RC_TS_SYNC_LOST'
  | 'RC_TS_CC_ERROR'
  | 'RC_TS_PES_INVALID'
  | 'RC_TS_PSI_INVALID'
  | 'RC_TS_PROGRAM_NOT_FOUND'
  | 'RC_TS_CODEC_UNSUPPORTED'
  | 'RC_TS_TIMESTAMP_JUMP';

export class MediaError extends Error {
  readonly code: MediaErrorCode;
  constructor(code: MediaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MediaError';
    this.code = code;
  }
}

export function isMediaError(err: unknown): err is MediaError {
  return err instanceof MediaError;
}
