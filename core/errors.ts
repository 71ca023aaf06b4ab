/**
 * Errors with stable codes (undici/fastify style). Codes are part of the contract: logs, metric
 * labels and API responses carry them. Always wrap the cause.
 */
import type { MediaErrorCode } from '../media/errors.ts';

export type RelaycastErrorCode =
  | 'RC_CONFIG_INVALID'
  | 'RC_NAME_INVALID'
  | 'RC_PORT_IN_USE'
  | 'RC_PUBLISH_KEY_INVALID'
  | 'RC_PUBLISH_RATE_LIMITED'
  | 'RC_PUBLISH_STREAM_LIMIT'
  | 'RC_PUBLISH_DRAINING'
  | 'RC_PUBLISH_STREAM_BUSY'
  | 'RC_PUBLISH_PENDING_LIMIT'
  | 'RC_PLAY_NOT_FOUND'
  | 'RC_PLAY_SIGNATURE_INVALID'
  | 'RC_PLAY_SIGNATURE_EXPIRED'
  | 'RC_PLAY_SIGNATURE_MISSING'
  | 'RC_PLAY_RATE_LIMITED'
  | 'RC_VIEWER_LIMIT'
  | 'RC_NODE_DRAINING'
  | 'RC_ADMIN_UNAUTHORIZED'
  | 'RC_ADMIN_HOST_REFUSED'
  | 'RC_ADMIN_CONTENT_TYPE'
  | 'RC_CLUSTER_UNAUTHORIZED'
  | 'RC_REGISTRY_UNAVAILABLE'
  | 'RC_PULL_FAILED'
  | 'RC_NOT_FOUND'
  | 'RC_BAD_REQUEST'
  | 'RC_CONFLICT'
  | 'RC_FAILED_PRECONDITION'
  | 'RC_INTERNAL'
  // channel sources (MPEG-TS over UDP/RTP)
  | 'RC_SOURCE_URL_INVALID'
  | 'RC_SOURCE_BIND_FAILED'
  | 'RC_SOURCE_CLOSED'
  | 'RC_SOURCE_FLOOD'
  | 'RC_SOURCE_SILENT'
  // RTMPS certificate and key (--tls-cert/--tls-key): unreadable, not PEM, or not a pair
  | 'RC_TLS_CERT_INVALID'
  // forwarding a stream to another RTMP(S) server (origin/forward.ts)
  | 'RC_FORWARD_URL_INVALID'
  | 'RC_FORWARD_SLOW'
  | 'RC_FORWARD_LOOP'
  // no origin can receive a channel source (control-plane/source-assigner.ts)
  | 'RC_SOURCE_UNASSIGNED'
  // a pulled source's upstream (HTTP-FLV, HLS, RTMP) failed or sent what cannot be used
  | 'RC_SOURCE_UPSTREAM'
  | 'RC_SOURCE_LOOP'
  | 'RC_SOURCE_LOSS'
  // WebRTC playback (WHEP, edge/webrtc/): a bad offer, no codec in common, no room, no session
  | 'RC_WEBRTC_SDP_INVALID'
  | 'RC_WEBRTC_CODEC_UNSUPPORTED'
  | 'RC_WEBRTC_SESSION_LIMIT'
  | 'RC_WEBRTC_SESSION_NOT_FOUND'
  | 'RC_WEBRTC_UNAVAILABLE'
  // LL-HLS blocking reload / preload hint: the part did not appear in time (RFC 8216bis 6.2.5.2)
  | 'RC_HLS_BLOCKING_TIMEOUT';

/**
 * gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html), by name. core/
 * does not depend on @grpc/grpc-js; errors.test.ts checks these numbers against its `status`.
 */
export const GRPC_STATUS = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatusName = keyof typeof GRPC_STATUS;

export interface ErrorStatus {
  /** HTTP status on every HTTP surface (viewer, internal, admin REST). */
  http: number;
  /** gRPC status on the control plane. */
  grpc: GrpcStatusName;
}

const BAD_MEDIA: ErrorStatus = { http: 400, grpc: 'INVALID_ARGUMENT' };

/**
 * The one table from error code to status. Every server maps errors through it (errorStatus), so
 * the same failure answers the same way on every port; errors.test.ts checks every code has an
 * entry. media/ codes are mapped here because media/ must not know about HTTP or gRPC.
 */
export const ERROR_STATUS: { readonly [C in RelaycastErrorCode | MediaErrorCode]: ErrorStatus } = {
  RC_CONFIG_INVALID: { http: 400, grpc: 'INVALID_ARGUMENT' },
  RC_NAME_INVALID: { http: 400, grpc: 'INVALID_ARGUMENT' },
  RC_PORT_IN_USE: { http: 500, grpc: 'UNAVAILABLE' },
  RC_PUBLISH_KEY_INVALID: { http: 403, grpc: 'PERMISSION_DENIED' },
  RC_PUBLISH_RATE_LIMITED: { http: 429, grpc: 'RESOURCE_EXHAUSTED' },
  RC_PUBLISH_STREAM_LIMIT: { http: 503, grpc: 'RESOURCE_EXHAUSTED' },
  RC_PUBLISH_DRAINING: { http: 503, grpc: 'UNAVAILABLE' },
  RC_PUBLISH_STREAM_BUSY: { http: 409, grpc: 'ALREADY_EXISTS' },
  RC_PUBLISH_PENDING_LIMIT: { http: 400, grpc: 'RESOURCE_EXHAUSTED' },
  RC_PLAY_NOT_FOUND: { http: 404, grpc: 'NOT_FOUND' },
  RC_PLAY_SIGNATURE_INVALID: { http: 403, grpc: 'PERMISSION_DENIED' },
  RC_PLAY_SIGNATURE_EXPIRED: { http: 403, grpc: 'PERMISSION_DENIED' },
  RC_PLAY_SIGNATURE_MISSING: { http: 403, grpc: 'PERMISSION_DENIED' },
  RC_PLAY_RATE_LIMITED: { http: 429, grpc: 'RESOURCE_EXHAUSTED' },
  RC_VIEWER_LIMIT: { http: 503, grpc: 'RESOURCE_EXHAUSTED' },
  RC_NODE_DRAINING: { http: 503, grpc: 'UNAVAILABLE' },
  RC_ADMIN_UNAUTHORIZED: { http: 401, grpc: 'UNAUTHENTICATED' },
  RC_ADMIN_HOST_REFUSED: { http: 403, grpc: 'PERMISSION_DENIED' },
  RC_ADMIN_CONTENT_TYPE: { http: 415, grpc: 'INVALID_ARGUMENT' },
  RC_CLUSTER_UNAUTHORIZED: { http: 401, grpc: 'UNAUTHENTICATED' },
  RC_REGISTRY_UNAVAILABLE: { http: 503, grpc: 'UNAVAILABLE' },
  RC_PULL_FAILED: { http: 502, grpc: 'UNAVAILABLE' },
  RC_NOT_FOUND: { http: 404, grpc: 'NOT_FOUND' },
  RC_BAD_REQUEST: { http: 400, grpc: 'INVALID_ARGUMENT' },
  RC_CONFLICT: { http: 409, grpc: 'ALREADY_EXISTS' },
  RC_FAILED_PRECONDITION: { http: 409, grpc: 'FAILED_PRECONDITION' },
  RC_INTERNAL: { http: 500, grpc: 'INTERNAL' },
  // media/: use after close is a state conflict; everything else is bad input from a peer.
  RC_INVALID_STATE: { http: 409, grpc: 'FAILED_PRECONDITION' },
  RC_AMF_TRUNCATED: BAD_MEDIA,
  RC_AMF_BAD_MARKER: BAD_MEDIA,
  RC_AMF_TOO_DEEP: BAD_MEDIA,
  RC_AMF_TOO_LONG: BAD_MEDIA,
  RC_AMF_BAD_REFERENCE: BAD_MEDIA,
  RC_AMF_UNSUPPORTED: BAD_MEDIA,
  RC_RTMP_BAD_VERSION: BAD_MEDIA,
  RC_RTMP_HANDSHAKE_FAILED: BAD_MEDIA,
  RC_RTMP_CHUNK_SIZE: BAD_MEDIA,
  RC_RTMP_MESSAGE_TOO_LARGE: BAD_MEDIA,
  RC_RTMP_BAD_CHUNK: BAD_MEDIA,
  RC_RTMP_TOO_MANY_CHUNK_STREAMS: BAD_MEDIA,
  RC_RTMP_BAD_COMMAND: BAD_MEDIA,
  // the RTMP client: a remote server (a forward's destination) failed us
  RC_RTMP_CONNECT_FAILED: { http: 502, grpc: 'UNAVAILABLE' },
  RC_RTMP_TIMEOUT: { http: 504, grpc: 'DEADLINE_EXCEEDED' },
  RC_RTMP_REJECTED: { http: 502, grpc: 'FAILED_PRECONDITION' },
  RC_RTMP_CLOSED: { http: 502, grpc: 'UNAVAILABLE' },
  RC_FLV_BAD_HEADER: BAD_MEDIA,
  RC_FLV_BAD_TAG: BAD_MEDIA,
  RC_FLV_TAG_TOO_LARGE: BAD_MEDIA,
  RC_CODEC_TRUNCATED: BAD_MEDIA,
  RC_CODEC_INVALID: BAD_MEDIA,
  RC_CODEC_UNSUPPORTED: BAD_MEDIA,
  RC_TS_INVALID_INPUT: BAD_MEDIA,
  RC_TS_SYNC_LOST: BAD_MEDIA,
  RC_TS_CC_ERROR: BAD_MEDIA,
  RC_TS_PES_INVALID: BAD_MEDIA,
  RC_TS_PSI_INVALID: BAD_MEDIA,
  RC_TS_PROGRAM_NOT_FOUND: BAD_MEDIA,
  RC_TS_CODEC_UNSUPPORTED: BAD_MEDIA,
  RC_TS_TIMESTAMP_JUMP: BAD_MEDIA,
  // sources (origin/sources): a URL is bad input; the rest describe a source's health
  RC_SOURCE_URL_INVALID: { http: 400, grpc: 'INVALID_ARGUMENT' },
  RC_SOURCE_BIND_FAILED: { http: 503, grpc: 'UNAVAILABLE' },
  RC_SOURCE_CLOSED: { http: 409, grpc: 'FAILED_PRECONDITION' },
  RC_SOURCE_FLOOD: { http: 503, grpc: 'RESOURCE_EXHAUSTED' },
  RC_SOURCE_SILENT: { http: 503, grpc: 'UNAVAILABLE' },
  RC_TLS_CERT_INVALID: { http: 500, grpc: 'FAILED_PRECONDITION' },
  RC_WEBRTC_SDP_INVALID: { http: 400, grpc: 'INVALID_ARGUMENT' },
  // RFC 9110 15.5.7: the offer's media formats cannot be served (WHEP draft: 406 is not named;
  // 400 would hide that the fix is on the player's side)
  RC_WEBRTC_CODEC_UNSUPPORTED: { http: 406, grpc: 'FAILED_PRECONDITION' },
  RC_WEBRTC_SESSION_LIMIT: { http: 503, grpc: 'RESOURCE_EXHAUSTED' },
  RC_WEBRTC_SESSION_NOT_FOUND: { http: 404, grpc: 'NOT_FOUND' },
  RC_WEBRTC_UNAVAILABLE: { http: 503, grpc: 'UNAVAILABLE' },
  RC_FORWARD_URL_INVALID: { http: 400, grpc: 'INVALID_ARGUMENT' },
  RC_FORWARD_SLOW: { http: 503, grpc: 'UNAVAILABLE' },
  RC_FORWARD_LOOP: { http: 400, grpc: 'INVALID_ARGUMENT' },
  RC_SOURCE_UNASSIGNED: { http: 503, grpc: 'UNAVAILABLE' },
  RC_SOURCE_UPSTREAM: { http: 502, grpc: 'UNAVAILABLE' },
  RC_SOURCE_LOOP: { http: 400, grpc: 'INVALID_ARGUMENT' },
  RC_SOURCE_LOSS: { http: 502, grpc: 'DATA_LOSS' },
  RC_HLS_BLOCKING_TIMEOUT: { http: 503, grpc: 'DEADLINE_EXCEEDED' },
};

export class RelaycastError extends Error {
  readonly code: RelaycastErrorCode;
  constructor(code: RelaycastErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RelaycastError';
    this.code = code;
  }

  get httpStatus(): number {
    return ERROR_STATUS[this.code].http;
  }

  /** Numeric gRPC status (GRPC_STATUS). */
  get grpcStatus(): number {
    return GRPC_STATUS[ERROR_STATUS[this.code].grpc];
  }
}

/**
 * Code and statuses for any error: ours, media's, or anything else (500 / INTERNAL). A code no
 * table entry knows (e.g. a foreign 'RC_…' string) also answers 500 / INTERNAL.
 */
export function errorStatus(err: unknown): { code: string; http: number; grpc: number } {
  const code = errorCode(err);
  const status = Object.hasOwn(ERROR_STATUS, code)
    ? ERROR_STATUS[code as keyof typeof ERROR_STATUS]
    : ERROR_STATUS.RC_INTERNAL;
  return { code, http: status.http, grpc: GRPC_STATUS[status.grpc] };
}

/** A stable code for any error: ours, media's, or 'RC_INTERNAL'. */
export function errorCode(err: unknown): string {
  if (
    err &&
    typeof err === 'object' &&
    'code' in err &&
    typeof err.code === 'string' &&
    err.code.startsWith('RC_')
  )
    return err.code;
  return 'RC_INTERNAL';
}
