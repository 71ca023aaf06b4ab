// Original file: proto/relaycast/v1/control.proto

import type { PublisherRole as _relaycast_v1_PublisherRole, PublisherRole__Output as _relaycast_v1_PublisherRole__Output } from '../../relaycast/v1/PublisherRole.ts';

export interface KickStreamRequest {
  'app'?: (string);
  'name'?: (string);
  /**
   * UNSPECIFIED kicks every publisher of the stream.
   */
  'role'?: (_relaycast_v1_PublisherRole);
}

export interface KickStreamRequest__Output {
  'app': (string);
  'name': (string);
  /**
   * UNSPECIFIED kicks every publisher of the stream.
   */
  'role': (_relaycast_v1_PublisherRole__Output);
}
