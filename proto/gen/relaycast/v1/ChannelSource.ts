// Original file: proto/relaycast/v1/control.proto

import type { Long } from '@grpc/proto-loader';

/**
 * MPEG-TS over UDP/RTP (udp://GROUP_OR_HOST:PORT[?source=IP&interface=ADDR&program=N], rtp://…).
 */
export interface ChannelSource {
  'url'?: (string);
  /**
   * Local address that joins the multicast group (empty: the node's --source-interface).
   */
  'interface'?: (string);
  /**
   * Filled in by the node receiving it: starting, waiting, receiving, silent ("" = not received here).
   */
  'state'?: (string);
  'bitrateKbps'?: (number | string | Long);
  'ccErrors'?: (number | string | Long);
  'lastPacketMs'?: (number | string | Long);
  'packets'?: (number | string | Long);
  /**
   * The node receiving it (a cluster origin the leader assigned, or the all-in-one).
   */
  'nodeId'?: (string);
}

/**
 * MPEG-TS over UDP/RTP (udp://GROUP_OR_HOST:PORT[?source=IP&interface=ADDR&program=N], rtp://…).
 */
export interface ChannelSource__Output {
  'url': (string);
  /**
   * Local address that joins the multicast group (empty: the node's --source-interface).
   */
  'interface': (string);
  /**
   * Filled in by the node receiving it: starting, waiting, receiving, silent ("" = not received here).
   */
  'state': (string);
  'bitrateKbps': (number);
  'ccErrors': (number);
  'lastPacketMs': (number);
  'packets': (number);
  /**
   * The node receiving it (a cluster origin the leader assigned, or the all-in-one).
   */
  'nodeId': (string);
}
