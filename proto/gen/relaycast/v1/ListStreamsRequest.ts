// Original file: proto/relaycast/v1/control.proto


export interface ListStreamsRequest {
  /**
   * Only streams of this app; empty = all.
   */
  'app'?: (string);
}

export interface ListStreamsRequest__Output {
  /**
   * Only streams of this app; empty = all.
   */
  'app': (string);
}
