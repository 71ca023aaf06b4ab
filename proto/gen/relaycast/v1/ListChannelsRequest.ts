// Original file: proto/relaycast/v1/control.proto


export interface ListChannelsRequest {
  'app'?: (string);
}

export interface ListChannelsRequest__Output {
  'app': (string);
}
