// Original file: proto/relaycast/v1/control.proto

import type { StreamInfo as _relaycast_v1_StreamInfo, StreamInfo__Output as _relaycast_v1_StreamInfo__Output } from '../../relaycast/v1/StreamInfo.ts';

export interface ListStreamsResponse {
  'streams'?: (_relaycast_v1_StreamInfo)[];
}

export interface ListStreamsResponse__Output {
  'streams': (_relaycast_v1_StreamInfo__Output)[];
}
