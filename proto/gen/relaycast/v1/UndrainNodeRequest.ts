// Original file: proto/relaycast/v1/control.proto


export interface UndrainNodeRequest {
  'nodeId'?: (string);
}

export interface UndrainNodeRequest__Output {
  'nodeId': (string);
}
