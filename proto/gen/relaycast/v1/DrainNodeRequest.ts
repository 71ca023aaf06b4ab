// Original file: proto/relaycast/v1/control.proto


export interface DrainNodeRequest {
  'nodeId'?: (string);
}

export interface DrainNodeRequest__Output {
  'nodeId': (string);
}
