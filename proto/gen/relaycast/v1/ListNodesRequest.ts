// Original file: proto/relaycast/v1/control.proto


export interface ListNodesRequest {
  /**
   * Only nodes of this role; empty = all.
   */
  'role'?: (string);
}

export interface ListNodesRequest__Output {
  /**
   * Only nodes of this role; empty = all.
   */
  'role': (string);
}
