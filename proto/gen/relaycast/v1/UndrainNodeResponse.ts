// Original file: proto/relaycast/v1/control.proto


export interface UndrainNodeResponse {
  'accepted'?: (boolean);
}

export interface UndrainNodeResponse__Output {
  'accepted': (boolean);
}
