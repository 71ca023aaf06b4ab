// Original file: proto/relaycast/v1/control.proto

import type { PublisherRole as _relaycast_v1_PublisherRole, PublisherRole__Output as _relaycast_v1_PublisherRole__Output } from '../../relaycast/v1/PublisherRole.ts';
import type { Route as _relaycast_v1_Route, Route__Output as _relaycast_v1_Route__Output } from '../../relaycast/v1/Route.ts';
import type { Publisher as _relaycast_v1_Publisher, Publisher__Output as _relaycast_v1_Publisher__Output } from '../../relaycast/v1/Publisher.ts';
import type { SwitchEvent as _relaycast_v1_SwitchEvent, SwitchEvent__Output as _relaycast_v1_SwitchEvent__Output } from '../../relaycast/v1/SwitchEvent.ts';

export interface StreamInfo {
  'app'?: (string);
  'name'?: (string);
  'activeRole'?: (_relaycast_v1_PublisherRole);
  /**
   * Absent when no publisher is live.
   */
  'route'?: (_relaycast_v1_Route | null);
  'publishers'?: (_relaycast_v1_Publisher)[];
  /**
   * Most recent first, at most 50.
   */
  'switches'?: (_relaycast_v1_SwitchEvent)[];
  /**
   * Whether a channel with this name exists (streams may also be published with open auth).
   */
  'hasChannel'?: (boolean);
}

export interface StreamInfo__Output {
  'app': (string);
  'name': (string);
  'activeRole': (_relaycast_v1_PublisherRole__Output);
  /**
   * Absent when no publisher is live.
   */
  'route': (_relaycast_v1_Route__Output | null);
  'publishers': (_relaycast_v1_Publisher__Output)[];
  /**
   * Most recent first, at most 50.
   */
  'switches': (_relaycast_v1_SwitchEvent__Output)[];
  /**
   * Whether a channel with this name exists (streams may also be published with open auth).
   */
  'hasChannel': (boolean);
}
