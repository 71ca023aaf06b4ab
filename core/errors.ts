/**
 * Errors with stable codes (undici/fastify style). Codes are part of the contract: logs, metric
 * labels and API responses carry them. Always wrap the cause.
 */
export type RelaycastErrorCode =
  | 'RC_CONFIG_INVALID'
  | 'RC_PUBLISH_KEY_INVALID'
  | 'RC_PUBLISH_RATE_LIMITED'
  | 'RC_PUBLISH_STREAM_LIMIT'
  | 'RC_PUBLISH_DRAINING'
  | 'RC_PLAY_NOT_FOUND'
  | 'RC_PLAY_SIGNATURE_INVALID'
  | 'RC_PLAY_SIGNATURE_EXPIRED'
  | 'RC_PLAY_SIGNATURE_MISSING'
  | 'RC_PLAY_RATE_LIMITED'
  | 'RC_VIEWER_LIMIT'
  | 'RC_ADMIN_UNAUTHORIZED'
  | 'RC_CLUSTER_UNAUTHORIZED'
  | 'RC_REGISTRY_UNAVAILABLE'
  | 'RC_PULL_FAILED'
  | 'RC_NOT_FOUND'
  | 'RC_BAD_REQUEST'
  | 'RC_CONFLICT'
  | 'RC_FAILED_PRECONDITION'
  | 'RC_INTERNAL';

export class RelaycastError extends Error {
  readonly code: RelaycastErrorCode;
  constructor(code: RelaycastErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RelaycastError';
    this.code = code;
  }
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
