// Original file: proto/relaycast/v1/control.proto


export interface DrainNodeResponse {
  'accepted'?: (boolean);
}

export interface DrainNodeResponse__Output {
  'accepted': (boolean);
}
