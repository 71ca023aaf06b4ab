// Original file: proto/relaycast/v1/control.proto

import type { Channel as _relaycast_v1_Channel, Channel__Output as _relaycast_v1_Channel__Output } from '../../relaycast/v1/Channel.ts';

export interface SetBackupResponse {
  'channel'?: (_relaycast_v1_Channel | null);
  /**
   * Only when a backup key was issued by this call.
   */
  'backupKey'?: (string);
}

export interface SetBackupResponse__Output {
  'channel': (_relaycast_v1_Channel__Output | null);
  /**
   * Only when a backup key was issued by this call.
   */
  'backupKey': (string);
}
