// Original file: proto/relaycast/v1/control.proto


export interface RemoveForwardRequest {
  'app'?: (string);
  'name'?: (string);
  /**
   * The forward's id (f1, f2, …) or its exact URL.
   */
  'id'?: (string);
}

export interface RemoveForwardRequest__Output {
  'app': (string);
  'name': (string);
  /**
   * The forward's id (f1, f2, …) or its exact URL.
   */
  'id': (string);
}
