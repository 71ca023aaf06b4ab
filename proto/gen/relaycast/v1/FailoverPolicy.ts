// Original file: proto/relaycast/v1/control.proto

import type { Long } from '@grpc/proto-loader';

export interface FailoverPolicy {
  /**
   * Switch back to the primary once it has been healthy for revert_after_ms.
   */
  'autoRevert'?: (boolean);
  /**
   * Default 5000.
   */
  'revertAfterMs'?: (number | string | Long);
  /**
   * A live primary that sends no media this long counts as failed. Default 2000.
   */
  'noMediaTimeoutMs'?: (number | string | Long);
}

export interface FailoverPolicy__Output {
  /**
   * Switch back to the primary once it has been healthy for revert_after_ms.
   */
  'autoRevert': (boolean);
  /**
   * Default 5000.
   */
  'revertAfterMs': (number);
  /**
   * A live primary that sends no media this long counts as failed. Default 2000.
   */
  'noMediaTimeoutMs': (number);
}
