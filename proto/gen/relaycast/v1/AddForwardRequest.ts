// Original file: proto/relaycast/v1/control.proto


export interface AddForwardRequest {
  'app'?: (string);
  'name'?: (string);
  /**
   * rtmp://host[:port]/app/KEY or rtmps://host[:port]/app/KEY
   */
  'url'?: (string);
}

export interface AddForwardRequest__Output {
  'app': (string);
  'name': (string);
  /**
   * rtmp://host[:port]/app/KEY or rtmps://host[:port]/app/KEY
   */
  'url': (string);
}
