// Original file: proto/relaycast/v1/control.proto

import type { FailoverPolicy as _relaycast_v1_FailoverPolicy, FailoverPolicy__Output as _relaycast_v1_FailoverPolicy__Output } from '../../relaycast/v1/FailoverPolicy.ts';

export interface SetBackupRequest {
  'app'?: (string);
  'name'?: (string);
  /**
   * true: make sure the channel has a backup key (a new one is issued only if it had none);
   * false: remove the backup key and disconnect the backup publisher.
   */
  'enabled'?: (boolean);
  /**
   * Optional new failover policy; fields left 0 keep their current values.
   */
  'failover'?: (_relaycast_v1_FailoverPolicy | null);
}

export interface SetBackupRequest__Output {
  'app': (string);
  'name': (string);
  /**
   * true: make sure the channel has a backup key (a new one is issued only if it had none);
   * false: remove the backup key and disconnect the backup publisher.
   */
  'enabled': (boolean);
  /**
   * Optional new failover policy; fields left 0 keep their current values.
   */
  'failover': (_relaycast_v1_FailoverPolicy__Output | null);
}
