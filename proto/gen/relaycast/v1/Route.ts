// Original file: proto/relaycast/v1/control.proto

import type { PublisherRole as _relaycast_v1_PublisherRole, PublisherRole__Output as _relaycast_v1_PublisherRole__Output } from '../../relaycast/v1/PublisherRole.ts';
import type { Long } from '@grpc/proto-loader';

export interface Route {
  'app'?: (string);
  'name'?: (string);
  'originNodeId'?: (string);
  /**
   * Base URL of the origin's internal HTTP port, e.g. http://10.0.0.5:8081
   */
  'originUrl'?: (string);
  /**
   * HTTP-FLV URL an edge pulls (needs the cluster token).
   */
  'pullUrl'?: (string);
  /**
   * Publish generation (fencing token of the publish); rises on every republish.
   */
  'generation'?: (number | string | Long);
  /**
   * Which publisher the route points at.
   */
  'role'?: (_relaycast_v1_PublisherRole);
}

export interface Route__Output {
  'app': (string);
  'name': (string);
  'originNodeId': (string);
  /**
   * Base URL of the origin's internal HTTP port, e.g. http://10.0.0.5:8081
   */
  'originUrl': (string);
  /**
   * HTTP-FLV URL an edge pulls (needs the cluster token).
   */
  'pullUrl': (string);
  /**
   * Publish generation (fencing token of the publish); rises on every republish.
   */
  'generation': (number);
  /**
   * Which publisher the route points at.
   */
  'role': (_relaycast_v1_PublisherRole__Output);
}
