// Original file: proto/relaycast/v1/control.proto


export interface KickStreamResponse {
  /**
   * Publishers the registry listed as live and that were told to disconnect.
   */
  'kicked'?: (number);
}

export interface KickStreamResponse__Output {
  /**
   * Publishers the registry listed as live and that were told to disconnect.
   */
  'kicked': (number);
}
