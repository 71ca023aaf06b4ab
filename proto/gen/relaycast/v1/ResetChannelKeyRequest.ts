// Original file: proto/relaycast/v1/control.proto

import type { PublisherRole as _relaycast_v1_PublisherRole, PublisherRole__Output as _relaycast_v1_PublisherRole__Output } from '../../relaycast/v1/PublisherRole.ts';

export interface ResetChannelKeyRequest {
  'app'?: (string);
  'name'?: (string);
  /**
   * Which key to replace; UNSPECIFIED means the primary key.
   */
  'role'?: (_relaycast_v1_PublisherRole);
}

export interface ResetChannelKeyRequest__Output {
  'app': (string);
  'name': (string);
  /**
   * Which key to replace; UNSPECIFIED means the primary key.
   */
  'role': (_relaycast_v1_PublisherRole__Output);
}
