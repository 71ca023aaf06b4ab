// Original file: proto/relaycast/v1/control.proto


export interface NodeLoad {
  'streams'?: (number);
  'viewers'?: (number);
  'egressMbps'?: (number | string);
  'ingressMbps'?: (number | string);
}

export interface NodeLoad__Output {
  'streams': (number);
  'viewers': (number);
  'egressMbps': (number);
  'ingressMbps': (number);
}
