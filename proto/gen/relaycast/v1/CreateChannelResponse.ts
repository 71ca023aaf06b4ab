// Original file: proto/relaycast/v1/control.proto

import type { Channel as _relaycast_v1_Channel, Channel__Output as _relaycast_v1_Channel__Output } from '../../relaycast/v1/Channel.ts';

export interface CreateChannelResponse {
  'channel'?: (_relaycast_v1_Channel | null);
  /**
   * The publish key. Shown once; store it in the encoder.
   */
  'key'?: (string);
  /**
   * Set when backup was requested.
   */
  'backupKey'?: (string);
}

export interface CreateChannelResponse__Output {
  'channel': (_relaycast_v1_Channel__Output | null);
  /**
   * The publish key. Shown once; store it in the encoder.
   */
  'key': (string);
  /**
   * Set when backup was requested.
   */
  'backupKey': (string);
}
