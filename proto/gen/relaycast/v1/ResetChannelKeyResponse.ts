// Original file: proto/relaycast/v1/control.proto

import type { Channel as _relaycast_v1_Channel, Channel__Output as _relaycast_v1_Channel__Output } from '../../relaycast/v1/Channel.ts';

export interface ResetChannelKeyResponse {
  'channel'?: (_relaycast_v1_Channel | null);
  'key'?: (string);
  'kicked'?: (number);
}

export interface ResetChannelKeyResponse__Output {
  'channel': (_relaycast_v1_Channel__Output | null);
  'key': (string);
  'kicked': (number);
}
