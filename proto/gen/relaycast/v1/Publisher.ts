// Original file: proto/relaycast/v1/control.proto

import type { PublisherRole as _relaycast_v1_PublisherRole, PublisherRole__Output as _relaycast_v1_PublisherRole__Output } from '../../relaycast/v1/PublisherRole.ts';
import type { Codecs as _relaycast_v1_Codecs, Codecs__Output as _relaycast_v1_Codecs__Output } from '../../relaycast/v1/Codecs.ts';
import type { Long } from '@grpc/proto-loader';

export interface Publisher {
  'role'?: (_relaycast_v1_PublisherRole);
  'originNodeId'?: (string);
  'originUrl'?: (string);
  'generation'?: (number | string | Long);
  'startedAtMs'?: (number | string | Long);
  'codecs'?: (_relaycast_v1_Codecs | null);
  'bitrateKbps'?: (number);
  /**
   * Last time the origin saw media from this publisher (as of its last report).
   */
  'lastMediaAtMs'?: (number | string | Long);
  /**
   * No media for longer than the channel's no-media timeout.
   */
  'stalled'?: (boolean);
}

export interface Publisher__Output {
  'role': (_relaycast_v1_PublisherRole__Output);
  'originNodeId': (string);
  'originUrl': (string);
  'generation': (number);
  'startedAtMs': (number);
  'codecs': (_relaycast_v1_Codecs__Output | null);
  'bitrateKbps': (number);
  /**
   * Last time the origin saw media from this publisher (as of its last report).
   */
  'lastMediaAtMs': (number);
  /**
   * No media for longer than the channel's no-media timeout.
   */
  'stalled': (boolean);
}
