// Original file: proto/relaycast/v1/control.proto


export interface DeleteChannelResponse {
  'kicked'?: (number);
}

export interface DeleteChannelResponse__Output {
  'kicked': (number);
}
