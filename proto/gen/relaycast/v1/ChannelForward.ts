// Original file: proto/relaycast/v1/control.proto

import type { PublisherRole as _relaycast_v1_PublisherRole, PublisherRole__Output as _relaycast_v1_PublisherRole__Output } from '../../relaycast/v1/PublisherRole.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * A push destination of a channel and how it is doing.
 */
export interface ChannelForward {
  'id'?: (string);
  /**
   * The destination with its key replaced by ***.
   */
  'url'?: (string);
  /**
   * idle (channel not live), connecting, live, retrying, stopped.
   */
  'state'?: (string);
  'bytesSent'?: (number | string | Long);
  'reconnects'?: (number);
  /**
   * Times the destination fell behind and frames were skipped to the next keyframe.
   */
  'skips'?: (number);
  /**
   * "RC_…: what happened" for the last failure; never the key.
   */
  'lastError'?: (string);
  /**
   * The node forwarding it and the publisher it follows.
   */
  'nodeId'?: (string);
  'role'?: (_relaycast_v1_PublisherRole);
}

/**
 * A push destination of a channel and how it is doing.
 */
export interface ChannelForward__Output {
  'id': (string);
  /**
   * The destination with its key replaced by ***.
   */
  'url': (string);
  /**
   * idle (channel not live), connecting, live, retrying, stopped.
   */
  'state': (string);
  'bytesSent': (number);
  'reconnects': (number);
  /**
   * Times the destination fell behind and frames were skipped to the next keyframe.
   */
  'skips': (number);
  /**
   * "RC_…: what happened" for the last failure; never the key.
   */
  'lastError': (string);
  /**
   * The node forwarding it and the publisher it follows.
   */
  'nodeId': (string);
  'role': (_relaycast_v1_PublisherRole__Output);
}
