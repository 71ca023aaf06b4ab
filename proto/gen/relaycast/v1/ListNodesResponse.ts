// Original file: proto/relaycast/v1/control.proto

import type { Node as _relaycast_v1_Node, Node__Output as _relaycast_v1_Node__Output } from '../../relaycast/v1/Node.ts';

export interface ListNodesResponse {
  'nodes'?: (_relaycast_v1_Node)[];
}

export interface ListNodesResponse__Output {
  'nodes': (_relaycast_v1_Node__Output)[];
}
