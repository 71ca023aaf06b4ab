// Original file: proto/relaycast/v1/control.proto


export interface Codecs {
  'videoCodec'?: (string);
  'width'?: (number);
  'height'?: (number);
  'frameRate'?: (number | string);
  'audioCodec'?: (string);
  'audioSampleRateHz'?: (number);
  'audioChannels'?: (number);
}

export interface Codecs__Output {
  'videoCodec': (string);
  'width': (number);
  'height': (number);
  'frameRate': (number);
  'audioCodec': (string);
  'audioSampleRateHz': (number);
  'audioChannels': (number);
}
