// Original file: proto/relaycast/v1/control.proto

import type { FailoverPolicy as _relaycast_v1_FailoverPolicy, FailoverPolicy__Output as _relaycast_v1_FailoverPolicy__Output } from '../../relaycast/v1/FailoverPolicy.ts';
import type { ChannelSource as _relaycast_v1_ChannelSource, ChannelSource__Output as _relaycast_v1_ChannelSource__Output } from '../../relaycast/v1/ChannelSource.ts';

export interface CreateChannelRequest {
  'app'?: (string);
  'name'?: (string);
  /**
   * Also issue a backup key.
   */
  'backup'?: (boolean);
  /**
   * Optional; defaults as documented in FailoverPolicy.
   */
  'failover'?: (_relaycast_v1_FailoverPolicy | null);
  /**
   * Optional: feed the channel from an MPEG-TS source (url required inside).
   */
  'source'?: (_relaycast_v1_ChannelSource | null);
  /**
   * Optional: "none" or "aes-128" overrides the packaging node's --hls-encryption for this channel.
   */
  'hlsEncryption'?: (string);
  /**
   * Optional push destinations (rtmp:// or rtmps:// URLs with their keys).
   */
  'forwards'?: (string)[];
  /**
   * Optional: a second source, the channel's backup (url required inside).
   */
  'backupSource'?: (_relaycast_v1_ChannelSource | null);
}

export interface CreateChannelRequest__Output {
  'app': (string);
  'name': (string);
  /**
   * Also issue a backup key.
   */
  'backup': (boolean);
  /**
   * Optional; defaults as documented in FailoverPolicy.
   */
  'failover': (_relaycast_v1_FailoverPolicy__Output | null);
  /**
   * Optional: feed the channel from an MPEG-TS source (url required inside).
   */
  'source': (_relaycast_v1_ChannelSource__Output | null);
  /**
   * Optional: "none" or "aes-128" overrides the packaging node's --hls-encryption for this channel.
   */
  'hlsEncryption': (string);
  /**
   * Optional push destinations (rtmp:// or rtmps:// URLs with their keys).
   */
  'forwards': (string)[];
  /**
   * Optional: a second source, the channel's backup (url required inside).
   */
  'backupSource': (_relaycast_v1_ChannelSource__Output | null);
}
