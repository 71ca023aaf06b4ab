// Original file: proto/relaycast/v1/control.proto

import type { PublisherRole as _relaycast_v1_PublisherRole, PublisherRole__Output as _relaycast_v1_PublisherRole__Output } from '../../relaycast/v1/PublisherRole.ts';

export interface SwitchChannelRequest {
  'app'?: (string);
  'name'?: (string);
  'to'?: (_relaycast_v1_PublisherRole);
  /**
   * Recorded in the switch history; default "manual".
   */
  'reason'?: (string);
  /**
   * Switch even when the target publisher is not live (viewers wait for it).
   */
  'force'?: (boolean);
}

export interface SwitchChannelRequest__Output {
  'app': (string);
  'name': (string);
  'to': (_relaycast_v1_PublisherRole__Output);
  /**
   * Recorded in the switch history; default "manual".
   */
  'reason': (string);
  /**
   * Switch even when the target publisher is not live (viewers wait for it).
   */
  'force': (boolean);
}
