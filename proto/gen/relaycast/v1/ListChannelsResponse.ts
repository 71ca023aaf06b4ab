// Original file: proto/relaycast/v1/control.proto

import type { Channel as _relaycast_v1_Channel, Channel__Output as _relaycast_v1_Channel__Output } from '../../relaycast/v1/Channel.ts';

export interface ListChannelsResponse {
  'channels'?: (_relaycast_v1_Channel)[];
}

export interface ListChannelsResponse__Output {
  'channels': (_relaycast_v1_Channel__Output)[];
}
