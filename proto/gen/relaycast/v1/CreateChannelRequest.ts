// Original file: proto/relaycast/v1/control.proto

import type { FailoverPolicy as _relaycast_v1_FailoverPolicy, FailoverPolicy__Output as _relaycast_v1_FailoverPolicy__Output } from '../../relaycast/v1/FailoverPolicy.ts';

export interface CreateChannelRequest {
  'app'?: (string);
  'name'?: (string);
  /**
   * Also issue a backup key.
   */
  'backup'?: (boolean);
  /**
   * Optional; defaults as documented in FailoverPolicy.
   */
  'failover'?: (_relaycast_v1_FailoverPolicy | null);
}

export interface CreateChannelRequest__Output {
  'app': (string);
  'name': (string);
  /**
   * Also issue a backup key.
   */
  'backup': (boolean);
  /**
   * Optional; defaults as documented in FailoverPolicy.
   */
  'failover': (_relaycast_v1_FailoverPolicy__Output | null);
}
