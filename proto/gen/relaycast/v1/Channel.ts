// Original file: proto/relaycast/v1/control.proto

import type { FailoverPolicy as _relaycast_v1_FailoverPolicy, FailoverPolicy__Output as _relaycast_v1_FailoverPolicy__Output } from '../../relaycast/v1/FailoverPolicy.ts';
import type { PublisherRole as _relaycast_v1_PublisherRole, PublisherRole__Output as _relaycast_v1_PublisherRole__Output } from '../../relaycast/v1/PublisherRole.ts';
import type { ChannelSource as _relaycast_v1_ChannelSource, ChannelSource__Output as _relaycast_v1_ChannelSource__Output } from '../../relaycast/v1/ChannelSource.ts';
import type { ChannelForward as _relaycast_v1_ChannelForward, ChannelForward__Output as _relaycast_v1_ChannelForward__Output } from '../../relaycast/v1/ChannelForward.ts';
import type { Long } from '@grpc/proto-loader';

export interface Channel {
  'app'?: (string);
  'name'?: (string);
  'hasBackup'?: (boolean);
  'createdAtMs'?: (number | string | Long);
  'failover'?: (_relaycast_v1_FailoverPolicy | null);
  'activeRole'?: (_relaycast_v1_PublisherRole);
  /**
   * Declared in a node's YAML config (`channels:`), not created over the API: its keys live in
   * that file, so delete and reset-key do not apply.
   */
  'fromConfig'?: (boolean);
  /**
   * Set when the channel is fed by an MPEG-TS source instead of a publisher.
   */
  'source'?: (_relaycast_v1_ChannelSource | null);
  /**
   * "none" or "aes-128" when the channel sets its own HLS encryption; empty: the node's
   * --hls-encryption applies.
   */
  'hlsEncryption'?: (string);
  /**
   * Push destinations (GetChannel/ListChannels fill their state from the forwarding node).
   */
  'forwards'?: (_relaycast_v1_ChannelForward)[];
  /**
   * The backup source (published as the channel's backup; the switcher moves viewers to it when
   * the primary stops or goes silent).
   */
  'backupSource'?: (_relaycast_v1_ChannelSource | null);
}

export interface Channel__Output {
  'app': (string);
  'name': (string);
  'hasBackup': (boolean);
  'createdAtMs': (number);
  'failover': (_relaycast_v1_FailoverPolicy__Output | null);
  'activeRole': (_relaycast_v1_PublisherRole__Output);
  /**
   * Declared in a node's YAML config (`channels:`), not created over the API: its keys live in
   * that file, so delete and reset-key do not apply.
   */
  'fromConfig': (boolean);
  /**
   * Set when the channel is fed by an MPEG-TS source instead of a publisher.
   */
  'source': (_relaycast_v1_ChannelSource__Output | null);
  /**
   * "none" or "aes-128" when the channel sets its own HLS encryption; empty: the node's
   * --hls-encryption applies.
   */
  'hlsEncryption': (string);
  /**
   * Push destinations (GetChannel/ListChannels fill their state from the forwarding node).
   */
  'forwards': (_relaycast_v1_ChannelForward__Output)[];
  /**
   * The backup source (published as the channel's backup; the switcher moves viewers to it when
   * the primary stops or goes silent).
   */
  'backupSource': (_relaycast_v1_ChannelSource__Output | null);
}
