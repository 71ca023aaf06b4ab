// Original file: proto/relaycast/v1/control.proto


export interface StreamRef {
  /**
   * Application, e.g. "live". Empty means "live".
   */
  'app'?: (string);
  /**
   * Public stream/channel name (never the key).
   */
  'name'?: (string);
}

export interface StreamRef__Output {
  /**
   * Application, e.g. "live". Empty means "live".
   */
  'app': (string);
  /**
   * Public stream/channel name (never the key).
   */
  'name': (string);
}
