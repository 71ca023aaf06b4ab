// Original file: proto/relaycast/v1/control.proto

import type { PublisherRole as _relaycast_v1_PublisherRole, PublisherRole__Output as _relaycast_v1_PublisherRole__Output } from '../../relaycast/v1/PublisherRole.ts';
import type { Long } from '@grpc/proto-loader';

export interface SwitchEvent {
  'atMs'?: (number | string | Long);
  'from'?: (_relaycast_v1_PublisherRole);
  'to'?: (_relaycast_v1_PublisherRole);
  /**
   * "primary-down", "primary-stalled", "primary-recovered", "manual", …
   */
  'reason'?: (string);
  /**
   * Control plane replica (node id) that made the switch, or "admin".
   */
  'by'?: (string);
}

export interface SwitchEvent__Output {
  'atMs': (number);
  'from': (_relaycast_v1_PublisherRole__Output);
  'to': (_relaycast_v1_PublisherRole__Output);
  /**
   * "primary-down", "primary-stalled", "primary-recovered", "manual", …
   */
  'reason': (string);
  /**
   * Control plane replica (node id) that made the switch, or "admin".
   */
  'by': (string);
}
