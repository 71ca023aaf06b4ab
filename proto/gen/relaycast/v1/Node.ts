// Original file: proto/relaycast/v1/control.proto

import type { NodeLoad as _relaycast_v1_NodeLoad, NodeLoad__Output as _relaycast_v1_NodeLoad__Output } from '../../relaycast/v1/NodeLoad.ts';
import type { Long } from '@grpc/proto-loader';

export interface Node {
  'id'?: (string);
  /**
   * origin, edge, control-plane or all
   */
  'role'?: (string);
  'advertiseHost'?: (string);
  'internalUrl'?: (string);
  'httpUrl'?: (string);
  'rtmpUrl'?: (string);
  'grpcUrl'?: (string);
  'adminUrl'?: (string);
  'load'?: (_relaycast_v1_NodeLoad | null);
  'draining'?: (boolean);
  'startedAtMs'?: (number | string | Long);
  'updatedAtMs'?: (number | string | Long);
  'version'?: (string);
  /**
   * For control plane nodes: whether this replica is the leader.
   */
  'leader'?: (boolean);
}

export interface Node__Output {
  'id': (string);
  /**
   * origin, edge, control-plane or all
   */
  'role': (string);
  'advertiseHost': (string);
  'internalUrl': (string);
  'httpUrl': (string);
  'rtmpUrl': (string);
  'grpcUrl': (string);
  'adminUrl': (string);
  'load': (_relaycast_v1_NodeLoad__Output | null);
  'draining': (boolean);
  'startedAtMs': (number);
  'updatedAtMs': (number);
  'version': (string);
  /**
   * For control plane nodes: whether this replica is the leader.
   */
  'leader': (boolean);
}
