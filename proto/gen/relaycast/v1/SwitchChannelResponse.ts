// Original file: proto/relaycast/v1/control.proto

import type { PublisherRole as _relaycast_v1_PublisherRole, PublisherRole__Output as _relaycast_v1_PublisherRole__Output } from '../../relaycast/v1/PublisherRole.ts';
import type { Route as _relaycast_v1_Route, Route__Output as _relaycast_v1_Route__Output } from '../../relaycast/v1/Route.ts';

export interface SwitchChannelResponse {
  'activeRole'?: (_relaycast_v1_PublisherRole);
  'route'?: (_relaycast_v1_Route | null);
}

export interface SwitchChannelResponse__Output {
  'activeRole': (_relaycast_v1_PublisherRole__Output);
  'route': (_relaycast_v1_Route__Output | null);
}
