// Original file: proto/relaycast/v1/control.proto

import type { Route as _relaycast_v1_Route, Route__Output as _relaycast_v1_Route__Output } from '../../relaycast/v1/Route.ts';

export interface RouteUpdate {
  /**
   * False when the stream is not live (route is then empty).
   */
  'live'?: (boolean);
  'route'?: (_relaycast_v1_Route | null);
  /**
   * Why this update was sent: "initial", "stream-up", "stream-down", "stream-moved", "switch",
   * "node-draining".
   */
  'reason'?: (string);
}

export interface RouteUpdate__Output {
  /**
   * False when the stream is not live (route is then empty).
   */
  'live': (boolean);
  'route': (_relaycast_v1_Route__Output | null);
  /**
   * Why this update was sent: "initial", "stream-up", "stream-down", "stream-moved", "switch",
   * "node-draining".
   */
  'reason': (string);
}
