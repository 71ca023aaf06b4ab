// Original file: proto/relaycast/v1/control.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AddForwardRequest as _relaycast_v1_AddForwardRequest, AddForwardRequest__Output as _relaycast_v1_AddForwardRequest__Output } from '../../relaycast/v1/AddForwardRequest.ts';
import type { Channel as _relaycast_v1_Channel, Channel__Output as _relaycast_v1_Channel__Output } from '../../relaycast/v1/Channel.ts';
import type { ChannelForward as _relaycast_v1_ChannelForward, ChannelForward__Output as _relaycast_v1_ChannelForward__Output } from '../../relaycast/v1/ChannelForward.ts';
import type { CreateChannelRequest as _relaycast_v1_CreateChannelRequest, CreateChannelRequest__Output as _relaycast_v1_CreateChannelRequest__Output } from '../../relaycast/v1/CreateChannelRequest.ts';
import type { CreateChannelResponse as _relaycast_v1_CreateChannelResponse, CreateChannelResponse__Output as _relaycast_v1_CreateChannelResponse__Output } from '../../relaycast/v1/CreateChannelResponse.ts';
import type { DeleteChannelResponse as _relaycast_v1_DeleteChannelResponse, DeleteChannelResponse__Output as _relaycast_v1_DeleteChannelResponse__Output } from '../../relaycast/v1/DeleteChannelResponse.ts';
import type { DrainNodeRequest as _relaycast_v1_DrainNodeRequest, DrainNodeRequest__Output as _relaycast_v1_DrainNodeRequest__Output } from '../../relaycast/v1/DrainNodeRequest.ts';
import type { DrainNodeResponse as _relaycast_v1_DrainNodeResponse, DrainNodeResponse__Output as _relaycast_v1_DrainNodeResponse__Output } from '../../relaycast/v1/DrainNodeResponse.ts';
import type { KickStreamRequest as _relaycast_v1_KickStreamRequest, KickStreamRequest__Output as _relaycast_v1_KickStreamRequest__Output } from '../../relaycast/v1/KickStreamRequest.ts';
import type { KickStreamResponse as _relaycast_v1_KickStreamResponse, KickStreamResponse__Output as _relaycast_v1_KickStreamResponse__Output } from '../../relaycast/v1/KickStreamResponse.ts';
import type { ListChannelsRequest as _relaycast_v1_ListChannelsRequest, ListChannelsRequest__Output as _relaycast_v1_ListChannelsRequest__Output } from '../../relaycast/v1/ListChannelsRequest.ts';
import type { ListChannelsResponse as _relaycast_v1_ListChannelsResponse, ListChannelsResponse__Output as _relaycast_v1_ListChannelsResponse__Output } from '../../relaycast/v1/ListChannelsResponse.ts';
import type { ListNodesRequest as _relaycast_v1_ListNodesRequest, ListNodesRequest__Output as _relaycast_v1_ListNodesRequest__Output } from '../../relaycast/v1/ListNodesRequest.ts';
import type { ListNodesResponse as _relaycast_v1_ListNodesResponse, ListNodesResponse__Output as _relaycast_v1_ListNodesResponse__Output } from '../../relaycast/v1/ListNodesResponse.ts';
import type { ListStreamsRequest as _relaycast_v1_ListStreamsRequest, ListStreamsRequest__Output as _relaycast_v1_ListStreamsRequest__Output } from '../../relaycast/v1/ListStreamsRequest.ts';
import type { ListStreamsResponse as _relaycast_v1_ListStreamsResponse, ListStreamsResponse__Output as _relaycast_v1_ListStreamsResponse__Output } from '../../relaycast/v1/ListStreamsResponse.ts';
import type { RemoveForwardRequest as _relaycast_v1_RemoveForwardRequest, RemoveForwardRequest__Output as _relaycast_v1_RemoveForwardRequest__Output } from '../../relaycast/v1/RemoveForwardRequest.ts';
import type { RemoveForwardResponse as _relaycast_v1_RemoveForwardResponse, RemoveForwardResponse__Output as _relaycast_v1_RemoveForwardResponse__Output } from '../../relaycast/v1/RemoveForwardResponse.ts';
import type { ResetChannelKeyRequest as _relaycast_v1_ResetChannelKeyRequest, ResetChannelKeyRequest__Output as _relaycast_v1_ResetChannelKeyRequest__Output } from '../../relaycast/v1/ResetChannelKeyRequest.ts';
import type { ResetChannelKeyResponse as _relaycast_v1_ResetChannelKeyResponse, ResetChannelKeyResponse__Output as _relaycast_v1_ResetChannelKeyResponse__Output } from '../../relaycast/v1/ResetChannelKeyResponse.ts';
import type { Route as _relaycast_v1_Route, Route__Output as _relaycast_v1_Route__Output } from '../../relaycast/v1/Route.ts';
import type { RouteUpdate as _relaycast_v1_RouteUpdate, RouteUpdate__Output as _relaycast_v1_RouteUpdate__Output } from '../../relaycast/v1/RouteUpdate.ts';
import type { SetBackupRequest as _relaycast_v1_SetBackupRequest, SetBackupRequest__Output as _relaycast_v1_SetBackupRequest__Output } from '../../relaycast/v1/SetBackupRequest.ts';
import type { SetBackupResponse as _relaycast_v1_SetBackupResponse, SetBackupResponse__Output as _relaycast_v1_SetBackupResponse__Output } from '../../relaycast/v1/SetBackupResponse.ts';
import type { StreamInfo as _relaycast_v1_StreamInfo, StreamInfo__Output as _relaycast_v1_StreamInfo__Output } from '../../relaycast/v1/StreamInfo.ts';
import type { StreamRef as _relaycast_v1_StreamRef, StreamRef__Output as _relaycast_v1_StreamRef__Output } from '../../relaycast/v1/StreamRef.ts';
import type { SwitchChannelRequest as _relaycast_v1_SwitchChannelRequest, SwitchChannelRequest__Output as _relaycast_v1_SwitchChannelRequest__Output } from '../../relaycast/v1/SwitchChannelRequest.ts';
import type { SwitchChannelResponse as _relaycast_v1_SwitchChannelResponse, SwitchChannelResponse__Output as _relaycast_v1_SwitchChannelResponse__Output } from '../../relaycast/v1/SwitchChannelResponse.ts';
import type { UndrainNodeRequest as _relaycast_v1_UndrainNodeRequest, UndrainNodeRequest__Output as _relaycast_v1_UndrainNodeRequest__Output } from '../../relaycast/v1/UndrainNodeRequest.ts';
import type { UndrainNodeResponse as _relaycast_v1_UndrainNodeResponse, UndrainNodeResponse__Output as _relaycast_v1_UndrainNodeResponse__Output } from '../../relaycast/v1/UndrainNodeResponse.ts';

export interface ControlPlaneClient extends grpc.Client {
  /**
   * Pushes the channel's live stream on to another RTMP(S) server as well (restreaming); the
   * origin holding the active publisher does it. The URL carries the destination's key: answers
   * and logs show it redacted.
   */
  AddForward(argument: _relaycast_v1_AddForwardRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ChannelForward__Output>): grpc.ClientUnaryCall;
  AddForward(argument: _relaycast_v1_AddForwardRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_ChannelForward__Output>): grpc.ClientUnaryCall;
  AddForward(argument: _relaycast_v1_AddForwardRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ChannelForward__Output>): grpc.ClientUnaryCall;
  AddForward(argument: _relaycast_v1_AddForwardRequest, callback: grpc.requestCallback<_relaycast_v1_ChannelForward__Output>): grpc.ClientUnaryCall;
  /**
   * Pushes the channel's live stream on to another RTMP(S) server as well (restreaming); the
   * origin holding the active publisher does it. The URL carries the destination's key: answers
   * and logs show it redacted.
   */
  addForward(argument: _relaycast_v1_AddForwardRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ChannelForward__Output>): grpc.ClientUnaryCall;
  addForward(argument: _relaycast_v1_AddForwardRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_ChannelForward__Output>): grpc.ClientUnaryCall;
  addForward(argument: _relaycast_v1_AddForwardRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ChannelForward__Output>): grpc.ClientUnaryCall;
  addForward(argument: _relaycast_v1_AddForwardRequest, callback: grpc.requestCallback<_relaycast_v1_ChannelForward__Output>): grpc.ClientUnaryCall;
  
  /**
   * Creates a channel: a public name (what viewers use) and a secret publish key (what the
   * encoder gets). The key is returned only here; the registry stores its SHA-256 hash.
   */
  CreateChannel(argument: _relaycast_v1_CreateChannelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_CreateChannelResponse__Output>): grpc.ClientUnaryCall;
  CreateChannel(argument: _relaycast_v1_CreateChannelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_CreateChannelResponse__Output>): grpc.ClientUnaryCall;
  CreateChannel(argument: _relaycast_v1_CreateChannelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_CreateChannelResponse__Output>): grpc.ClientUnaryCall;
  CreateChannel(argument: _relaycast_v1_CreateChannelRequest, callback: grpc.requestCallback<_relaycast_v1_CreateChannelResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Creates a channel: a public name (what viewers use) and a secret publish key (what the
   * encoder gets). The key is returned only here; the registry stores its SHA-256 hash.
   */
  createChannel(argument: _relaycast_v1_CreateChannelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_CreateChannelResponse__Output>): grpc.ClientUnaryCall;
  createChannel(argument: _relaycast_v1_CreateChannelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_CreateChannelResponse__Output>): grpc.ClientUnaryCall;
  createChannel(argument: _relaycast_v1_CreateChannelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_CreateChannelResponse__Output>): grpc.ClientUnaryCall;
  createChannel(argument: _relaycast_v1_CreateChannelRequest, callback: grpc.requestCallback<_relaycast_v1_CreateChannelResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Deletes the channel and disconnects its live publishers.
   */
  DeleteChannel(argument: _relaycast_v1_StreamRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_DeleteChannelResponse__Output>): grpc.ClientUnaryCall;
  DeleteChannel(argument: _relaycast_v1_StreamRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_DeleteChannelResponse__Output>): grpc.ClientUnaryCall;
  DeleteChannel(argument: _relaycast_v1_StreamRef, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_DeleteChannelResponse__Output>): grpc.ClientUnaryCall;
  DeleteChannel(argument: _relaycast_v1_StreamRef, callback: grpc.requestCallback<_relaycast_v1_DeleteChannelResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Deletes the channel and disconnects its live publishers.
   */
  deleteChannel(argument: _relaycast_v1_StreamRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_DeleteChannelResponse__Output>): grpc.ClientUnaryCall;
  deleteChannel(argument: _relaycast_v1_StreamRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_DeleteChannelResponse__Output>): grpc.ClientUnaryCall;
  deleteChannel(argument: _relaycast_v1_StreamRef, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_DeleteChannelResponse__Output>): grpc.ClientUnaryCall;
  deleteChannel(argument: _relaycast_v1_StreamRef, callback: grpc.requestCallback<_relaycast_v1_DeleteChannelResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Asks a node to stop accepting new publishers and viewers (readiness goes false, so load
   * balancers take it out); current ones continue.
   */
  DrainNode(argument: _relaycast_v1_DrainNodeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_DrainNodeResponse__Output>): grpc.ClientUnaryCall;
  DrainNode(argument: _relaycast_v1_DrainNodeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_DrainNodeResponse__Output>): grpc.ClientUnaryCall;
  DrainNode(argument: _relaycast_v1_DrainNodeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_DrainNodeResponse__Output>): grpc.ClientUnaryCall;
  DrainNode(argument: _relaycast_v1_DrainNodeRequest, callback: grpc.requestCallback<_relaycast_v1_DrainNodeResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Asks a node to stop accepting new publishers and viewers (readiness goes false, so load
   * balancers take it out); current ones continue.
   */
  drainNode(argument: _relaycast_v1_DrainNodeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_DrainNodeResponse__Output>): grpc.ClientUnaryCall;
  drainNode(argument: _relaycast_v1_DrainNodeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_DrainNodeResponse__Output>): grpc.ClientUnaryCall;
  drainNode(argument: _relaycast_v1_DrainNodeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_DrainNodeResponse__Output>): grpc.ClientUnaryCall;
  drainNode(argument: _relaycast_v1_DrainNodeRequest, callback: grpc.requestCallback<_relaycast_v1_DrainNodeResponse__Output>): grpc.ClientUnaryCall;
  
  GetChannel(argument: _relaycast_v1_StreamRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_Channel__Output>): grpc.ClientUnaryCall;
  GetChannel(argument: _relaycast_v1_StreamRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_Channel__Output>): grpc.ClientUnaryCall;
  GetChannel(argument: _relaycast_v1_StreamRef, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_Channel__Output>): grpc.ClientUnaryCall;
  GetChannel(argument: _relaycast_v1_StreamRef, callback: grpc.requestCallback<_relaycast_v1_Channel__Output>): grpc.ClientUnaryCall;
  
  /**
   * One stream: its publishers, active role, route and the history of switches.
   */
  GetStream(argument: _relaycast_v1_StreamRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_StreamInfo__Output>): grpc.ClientUnaryCall;
  GetStream(argument: _relaycast_v1_StreamRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_StreamInfo__Output>): grpc.ClientUnaryCall;
  GetStream(argument: _relaycast_v1_StreamRef, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_StreamInfo__Output>): grpc.ClientUnaryCall;
  GetStream(argument: _relaycast_v1_StreamRef, callback: grpc.requestCallback<_relaycast_v1_StreamInfo__Output>): grpc.ClientUnaryCall;
  /**
   * One stream: its publishers, active role, route and the history of switches.
   */
  getStream(argument: _relaycast_v1_StreamRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_StreamInfo__Output>): grpc.ClientUnaryCall;
  getStream(argument: _relaycast_v1_StreamRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_StreamInfo__Output>): grpc.ClientUnaryCall;
  getStream(argument: _relaycast_v1_StreamRef, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_StreamInfo__Output>): grpc.ClientUnaryCall;
  getStream(argument: _relaycast_v1_StreamRef, callback: grpc.requestCallback<_relaycast_v1_StreamInfo__Output>): grpc.ClientUnaryCall;
  
  /**
   * Disconnects the stream's publisher(s) on whichever origin holds them.
   */
  KickStream(argument: _relaycast_v1_KickStreamRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_KickStreamResponse__Output>): grpc.ClientUnaryCall;
  KickStream(argument: _relaycast_v1_KickStreamRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_KickStreamResponse__Output>): grpc.ClientUnaryCall;
  KickStream(argument: _relaycast_v1_KickStreamRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_KickStreamResponse__Output>): grpc.ClientUnaryCall;
  KickStream(argument: _relaycast_v1_KickStreamRequest, callback: grpc.requestCallback<_relaycast_v1_KickStreamResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Disconnects the stream's publisher(s) on whichever origin holds them.
   */
  kickStream(argument: _relaycast_v1_KickStreamRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_KickStreamResponse__Output>): grpc.ClientUnaryCall;
  kickStream(argument: _relaycast_v1_KickStreamRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_KickStreamResponse__Output>): grpc.ClientUnaryCall;
  kickStream(argument: _relaycast_v1_KickStreamRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_KickStreamResponse__Output>): grpc.ClientUnaryCall;
  kickStream(argument: _relaycast_v1_KickStreamRequest, callback: grpc.requestCallback<_relaycast_v1_KickStreamResponse__Output>): grpc.ClientUnaryCall;
  
  ListChannels(argument: _relaycast_v1_ListChannelsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ListChannelsResponse__Output>): grpc.ClientUnaryCall;
  ListChannels(argument: _relaycast_v1_ListChannelsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_ListChannelsResponse__Output>): grpc.ClientUnaryCall;
  ListChannels(argument: _relaycast_v1_ListChannelsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ListChannelsResponse__Output>): grpc.ClientUnaryCall;
  ListChannels(argument: _relaycast_v1_ListChannelsRequest, callback: grpc.requestCallback<_relaycast_v1_ListChannelsResponse__Output>): grpc.ClientUnaryCall;
  listChannels(argument: _relaycast_v1_ListChannelsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ListChannelsResponse__Output>): grpc.ClientUnaryCall;
  listChannels(argument: _relaycast_v1_ListChannelsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_ListChannelsResponse__Output>): grpc.ClientUnaryCall;
  listChannels(argument: _relaycast_v1_ListChannelsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ListChannelsResponse__Output>): grpc.ClientUnaryCall;
  listChannels(argument: _relaycast_v1_ListChannelsRequest, callback: grpc.requestCallback<_relaycast_v1_ListChannelsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Every live node with its role, URLs and load (as last reported, at most a few seconds old).
   */
  ListNodes(argument: _relaycast_v1_ListNodesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ListNodesResponse__Output>): grpc.ClientUnaryCall;
  ListNodes(argument: _relaycast_v1_ListNodesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_ListNodesResponse__Output>): grpc.ClientUnaryCall;
  ListNodes(argument: _relaycast_v1_ListNodesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ListNodesResponse__Output>): grpc.ClientUnaryCall;
  ListNodes(argument: _relaycast_v1_ListNodesRequest, callback: grpc.requestCallback<_relaycast_v1_ListNodesResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Every live node with its role, URLs and load (as last reported, at most a few seconds old).
   */
  listNodes(argument: _relaycast_v1_ListNodesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ListNodesResponse__Output>): grpc.ClientUnaryCall;
  listNodes(argument: _relaycast_v1_ListNodesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_ListNodesResponse__Output>): grpc.ClientUnaryCall;
  listNodes(argument: _relaycast_v1_ListNodesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ListNodesResponse__Output>): grpc.ClientUnaryCall;
  listNodes(argument: _relaycast_v1_ListNodesRequest, callback: grpc.requestCallback<_relaycast_v1_ListNodesResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Live streams in the cluster (one entry per channel/stream, with its publishers).
   */
  ListStreams(argument: _relaycast_v1_ListStreamsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ListStreamsResponse__Output>): grpc.ClientUnaryCall;
  ListStreams(argument: _relaycast_v1_ListStreamsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_ListStreamsResponse__Output>): grpc.ClientUnaryCall;
  ListStreams(argument: _relaycast_v1_ListStreamsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ListStreamsResponse__Output>): grpc.ClientUnaryCall;
  ListStreams(argument: _relaycast_v1_ListStreamsRequest, callback: grpc.requestCallback<_relaycast_v1_ListStreamsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Live streams in the cluster (one entry per channel/stream, with its publishers).
   */
  listStreams(argument: _relaycast_v1_ListStreamsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ListStreamsResponse__Output>): grpc.ClientUnaryCall;
  listStreams(argument: _relaycast_v1_ListStreamsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_ListStreamsResponse__Output>): grpc.ClientUnaryCall;
  listStreams(argument: _relaycast_v1_ListStreamsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ListStreamsResponse__Output>): grpc.ClientUnaryCall;
  listStreams(argument: _relaycast_v1_ListStreamsRequest, callback: grpc.requestCallback<_relaycast_v1_ListStreamsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Stops and removes a destination, by id (or by its exact URL).
   */
  RemoveForward(argument: _relaycast_v1_RemoveForwardRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_RemoveForwardResponse__Output>): grpc.ClientUnaryCall;
  RemoveForward(argument: _relaycast_v1_RemoveForwardRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_RemoveForwardResponse__Output>): grpc.ClientUnaryCall;
  RemoveForward(argument: _relaycast_v1_RemoveForwardRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_RemoveForwardResponse__Output>): grpc.ClientUnaryCall;
  RemoveForward(argument: _relaycast_v1_RemoveForwardRequest, callback: grpc.requestCallback<_relaycast_v1_RemoveForwardResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Stops and removes a destination, by id (or by its exact URL).
   */
  removeForward(argument: _relaycast_v1_RemoveForwardRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_RemoveForwardResponse__Output>): grpc.ClientUnaryCall;
  removeForward(argument: _relaycast_v1_RemoveForwardRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_RemoveForwardResponse__Output>): grpc.ClientUnaryCall;
  removeForward(argument: _relaycast_v1_RemoveForwardRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_RemoveForwardResponse__Output>): grpc.ClientUnaryCall;
  removeForward(argument: _relaycast_v1_RemoveForwardRequest, callback: grpc.requestCallback<_relaycast_v1_RemoveForwardResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Issues a new key (primary or backup); the old one stops working and its live publisher is
   * disconnected.
   */
  ResetChannelKey(argument: _relaycast_v1_ResetChannelKeyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ResetChannelKeyResponse__Output>): grpc.ClientUnaryCall;
  ResetChannelKey(argument: _relaycast_v1_ResetChannelKeyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_ResetChannelKeyResponse__Output>): grpc.ClientUnaryCall;
  ResetChannelKey(argument: _relaycast_v1_ResetChannelKeyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ResetChannelKeyResponse__Output>): grpc.ClientUnaryCall;
  ResetChannelKey(argument: _relaycast_v1_ResetChannelKeyRequest, callback: grpc.requestCallback<_relaycast_v1_ResetChannelKeyResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Issues a new key (primary or backup); the old one stops working and its live publisher is
   * disconnected.
   */
  resetChannelKey(argument: _relaycast_v1_ResetChannelKeyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ResetChannelKeyResponse__Output>): grpc.ClientUnaryCall;
  resetChannelKey(argument: _relaycast_v1_ResetChannelKeyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_ResetChannelKeyResponse__Output>): grpc.ClientUnaryCall;
  resetChannelKey(argument: _relaycast_v1_ResetChannelKeyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_ResetChannelKeyResponse__Output>): grpc.ClientUnaryCall;
  resetChannelKey(argument: _relaycast_v1_ResetChannelKeyRequest, callback: grpc.requestCallback<_relaycast_v1_ResetChannelKeyResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Where a stream is live now: the origin holding its active publisher and the URL an edge
   * pulls from. NOT_FOUND when neither the primary nor the backup publisher is live.
   */
  Resolve(argument: _relaycast_v1_StreamRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_Route__Output>): grpc.ClientUnaryCall;
  Resolve(argument: _relaycast_v1_StreamRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_Route__Output>): grpc.ClientUnaryCall;
  Resolve(argument: _relaycast_v1_StreamRef, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_Route__Output>): grpc.ClientUnaryCall;
  Resolve(argument: _relaycast_v1_StreamRef, callback: grpc.requestCallback<_relaycast_v1_Route__Output>): grpc.ClientUnaryCall;
  /**
   * Where a stream is live now: the origin holding its active publisher and the URL an edge
   * pulls from. NOT_FOUND when neither the primary nor the backup publisher is live.
   */
  resolve(argument: _relaycast_v1_StreamRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_Route__Output>): grpc.ClientUnaryCall;
  resolve(argument: _relaycast_v1_StreamRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_Route__Output>): grpc.ClientUnaryCall;
  resolve(argument: _relaycast_v1_StreamRef, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_Route__Output>): grpc.ClientUnaryCall;
  resolve(argument: _relaycast_v1_StreamRef, callback: grpc.requestCallback<_relaycast_v1_Route__Output>): grpc.ClientUnaryCall;
  
  /**
   * Adds (returning its key once) or removes the channel's backup publisher, and/or sets the
   * failover policy.
   */
  SetBackup(argument: _relaycast_v1_SetBackupRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_SetBackupResponse__Output>): grpc.ClientUnaryCall;
  SetBackup(argument: _relaycast_v1_SetBackupRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_SetBackupResponse__Output>): grpc.ClientUnaryCall;
  SetBackup(argument: _relaycast_v1_SetBackupRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_SetBackupResponse__Output>): grpc.ClientUnaryCall;
  SetBackup(argument: _relaycast_v1_SetBackupRequest, callback: grpc.requestCallback<_relaycast_v1_SetBackupResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Adds (returning its key once) or removes the channel's backup publisher, and/or sets the
   * failover policy.
   */
  setBackup(argument: _relaycast_v1_SetBackupRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_SetBackupResponse__Output>): grpc.ClientUnaryCall;
  setBackup(argument: _relaycast_v1_SetBackupRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_SetBackupResponse__Output>): grpc.ClientUnaryCall;
  setBackup(argument: _relaycast_v1_SetBackupRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_SetBackupResponse__Output>): grpc.ClientUnaryCall;
  setBackup(argument: _relaycast_v1_SetBackupRequest, callback: grpc.requestCallback<_relaycast_v1_SetBackupResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Manual switch of the channel's active publisher. Viewers on edges follow without
   * reconnecting.
   */
  SwitchChannel(argument: _relaycast_v1_SwitchChannelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_SwitchChannelResponse__Output>): grpc.ClientUnaryCall;
  SwitchChannel(argument: _relaycast_v1_SwitchChannelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_SwitchChannelResponse__Output>): grpc.ClientUnaryCall;
  SwitchChannel(argument: _relaycast_v1_SwitchChannelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_SwitchChannelResponse__Output>): grpc.ClientUnaryCall;
  SwitchChannel(argument: _relaycast_v1_SwitchChannelRequest, callback: grpc.requestCallback<_relaycast_v1_SwitchChannelResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Manual switch of the channel's active publisher. Viewers on edges follow without
   * reconnecting.
   */
  switchChannel(argument: _relaycast_v1_SwitchChannelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_SwitchChannelResponse__Output>): grpc.ClientUnaryCall;
  switchChannel(argument: _relaycast_v1_SwitchChannelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_SwitchChannelResponse__Output>): grpc.ClientUnaryCall;
  switchChannel(argument: _relaycast_v1_SwitchChannelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_SwitchChannelResponse__Output>): grpc.ClientUnaryCall;
  switchChannel(argument: _relaycast_v1_SwitchChannelRequest, callback: grpc.requestCallback<_relaycast_v1_SwitchChannelResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * The inverse of DrainNode: the node takes new publishers and viewers again (readiness comes
   * back). A node that is shutting down (SIGTERM) does not resume.
   */
  UndrainNode(argument: _relaycast_v1_UndrainNodeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_UndrainNodeResponse__Output>): grpc.ClientUnaryCall;
  UndrainNode(argument: _relaycast_v1_UndrainNodeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_UndrainNodeResponse__Output>): grpc.ClientUnaryCall;
  UndrainNode(argument: _relaycast_v1_UndrainNodeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_UndrainNodeResponse__Output>): grpc.ClientUnaryCall;
  UndrainNode(argument: _relaycast_v1_UndrainNodeRequest, callback: grpc.requestCallback<_relaycast_v1_UndrainNodeResponse__Output>): grpc.ClientUnaryCall;
  /**
   * The inverse of DrainNode: the node takes new publishers and viewers again (readiness comes
   * back). A node that is shutting down (SIGTERM) does not resume.
   */
  undrainNode(argument: _relaycast_v1_UndrainNodeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_UndrainNodeResponse__Output>): grpc.ClientUnaryCall;
  undrainNode(argument: _relaycast_v1_UndrainNodeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_relaycast_v1_UndrainNodeResponse__Output>): grpc.ClientUnaryCall;
  undrainNode(argument: _relaycast_v1_UndrainNodeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_relaycast_v1_UndrainNodeResponse__Output>): grpc.ClientUnaryCall;
  undrainNode(argument: _relaycast_v1_UndrainNodeRequest, callback: grpc.requestCallback<_relaycast_v1_UndrainNodeResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * The current route first, then one message each time it changes (origin failover, republish
   * elsewhere, backup switch, stream end). The stream stays open until the client cancels.
   */
  WatchRoute(argument: _relaycast_v1_StreamRef, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_relaycast_v1_RouteUpdate__Output>;
  WatchRoute(argument: _relaycast_v1_StreamRef, options?: grpc.CallOptions): grpc.ClientReadableStream<_relaycast_v1_RouteUpdate__Output>;
  /**
   * The current route first, then one message each time it changes (origin failover, republish
   * elsewhere, backup switch, stream end). The stream stays open until the client cancels.
   */
  watchRoute(argument: _relaycast_v1_StreamRef, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_relaycast_v1_RouteUpdate__Output>;
  watchRoute(argument: _relaycast_v1_StreamRef, options?: grpc.CallOptions): grpc.ClientReadableStream<_relaycast_v1_RouteUpdate__Output>;
  
}

export interface ControlPlaneHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Pushes the channel's live stream on to another RTMP(S) server as well (restreaming); the
   * origin holding the active publisher does it. The URL carries the destination's key: answers
   * and logs show it redacted.
   */
  AddForward: grpc.handleUnaryCall<_relaycast_v1_AddForwardRequest__Output, _relaycast_v1_ChannelForward>;
  
  /**
   * Creates a channel: a public name (what viewers use) and a secret publish key (what the
   * encoder gets). The key is returned only here; the registry stores its SHA-256 hash.
   */
  CreateChannel: grpc.handleUnaryCall<_relaycast_v1_CreateChannelRequest__Output, _relaycast_v1_CreateChannelResponse>;
  
  /**
   * Deletes the channel and disconnects its live publishers.
   */
  DeleteChannel: grpc.handleUnaryCall<_relaycast_v1_StreamRef__Output, _relaycast_v1_DeleteChannelResponse>;
  
  /**
   * Asks a node to stop accepting new publishers and viewers (readiness goes false, so load
   * balancers take it out); current ones continue.
   */
  DrainNode: grpc.handleUnaryCall<_relaycast_v1_DrainNodeRequest__Output, _relaycast_v1_DrainNodeResponse>;
  
  GetChannel: grpc.handleUnaryCall<_relaycast_v1_StreamRef__Output, _relaycast_v1_Channel>;
  
  /**
   * One stream: its publishers, active role, route and the history of switches.
   */
  GetStream: grpc.handleUnaryCall<_relaycast_v1_StreamRef__Output, _relaycast_v1_StreamInfo>;
  
  /**
   * Disconnects the stream's publisher(s) on whichever origin holds them.
   */
  KickStream: grpc.handleUnaryCall<_relaycast_v1_KickStreamRequest__Output, _relaycast_v1_KickStreamResponse>;
  
  ListChannels: grpc.handleUnaryCall<_relaycast_v1_ListChannelsRequest__Output, _relaycast_v1_ListChannelsResponse>;
  
  /**
   * Every live node with its role, URLs and load (as last reported, at most a few seconds old).
   */
  ListNodes: grpc.handleUnaryCall<_relaycast_v1_ListNodesRequest__Output, _relaycast_v1_ListNodesResponse>;
  
  /**
   * Live streams in the cluster (one entry per channel/stream, with its publishers).
   */
  ListStreams: grpc.handleUnaryCall<_relaycast_v1_ListStreamsRequest__Output, _relaycast_v1_ListStreamsResponse>;
  
  /**
   * Stops and removes a destination, by id (or by its exact URL).
   */
  RemoveForward: grpc.handleUnaryCall<_relaycast_v1_RemoveForwardRequest__Output, _relaycast_v1_RemoveForwardResponse>;
  
  /**
   * Issues a new key (primary or backup); the old one stops working and its live publisher is
   * disconnected.
   */
  ResetChannelKey: grpc.handleUnaryCall<_relaycast_v1_ResetChannelKeyRequest__Output, _relaycast_v1_ResetChannelKeyResponse>;
  
  /**
   * Where a stream is live now: the origin holding its active publisher and the URL an edge
   * pulls from. NOT_FOUND when neither the primary nor the backup publisher is live.
   */
  Resolve: grpc.handleUnaryCall<_relaycast_v1_StreamRef__Output, _relaycast_v1_Route>;
  
  /**
   * Adds (returning its key once) or removes the channel's backup publisher, and/or sets the
   * failover policy.
   */
  SetBackup: grpc.handleUnaryCall<_relaycast_v1_SetBackupRequest__Output, _relaycast_v1_SetBackupResponse>;
  
  /**
   * Manual switch of the channel's active publisher. Viewers on edges follow without
   * reconnecting.
   */
  SwitchChannel: grpc.handleUnaryCall<_relaycast_v1_SwitchChannelRequest__Output, _relaycast_v1_SwitchChannelResponse>;
  
  /**
   * The inverse of DrainNode: the node takes new publishers and viewers again (readiness comes
   * back). A node that is shutting down (SIGTERM) does not resume.
   */
  UndrainNode: grpc.handleUnaryCall<_relaycast_v1_UndrainNodeRequest__Output, _relaycast_v1_UndrainNodeResponse>;
  
  /**
   * The current route first, then one message each time it changes (origin failover, republish
   * elsewhere, backup switch, stream end). The stream stays open until the client cancels.
   */
  WatchRoute: grpc.handleServerStreamingCall<_relaycast_v1_StreamRef__Output, _relaycast_v1_RouteUpdate>;
  
}

export interface ControlPlaneDefinition extends grpc.ServiceDefinition {
  AddForward: MethodDefinition<_relaycast_v1_AddForwardRequest, _relaycast_v1_ChannelForward, _relaycast_v1_AddForwardRequest__Output, _relaycast_v1_ChannelForward__Output>
  CreateChannel: MethodDefinition<_relaycast_v1_CreateChannelRequest, _relaycast_v1_CreateChannelResponse, _relaycast_v1_CreateChannelRequest__Output, _relaycast_v1_CreateChannelResponse__Output>
  DeleteChannel: MethodDefinition<_relaycast_v1_StreamRef, _relaycast_v1_DeleteChannelResponse, _relaycast_v1_StreamRef__Output, _relaycast_v1_DeleteChannelResponse__Output>
  DrainNode: MethodDefinition<_relaycast_v1_DrainNodeRequest, _relaycast_v1_DrainNodeResponse, _relaycast_v1_DrainNodeRequest__Output, _relaycast_v1_DrainNodeResponse__Output>
  GetChannel: MethodDefinition<_relaycast_v1_StreamRef, _relaycast_v1_Channel, _relaycast_v1_StreamRef__Output, _relaycast_v1_Channel__Output>
  GetStream: MethodDefinition<_relaycast_v1_StreamRef, _relaycast_v1_StreamInfo, _relaycast_v1_StreamRef__Output, _relaycast_v1_StreamInfo__Output>
  KickStream: MethodDefinition<_relaycast_v1_KickStreamRequest, _relaycast_v1_KickStreamResponse, _relaycast_v1_KickStreamRequest__Output, _relaycast_v1_KickStreamResponse__Output>
  ListChannels: MethodDefinition<_relaycast_v1_ListChannelsRequest, _relaycast_v1_ListChannelsResponse, _relaycast_v1_ListChannelsRequest__Output, _relaycast_v1_ListChannelsResponse__Output>
  ListNodes: MethodDefinition<_relaycast_v1_ListNodesRequest, _relaycast_v1_ListNodesResponse, _relaycast_v1_ListNodesRequest__Output, _relaycast_v1_ListNodesResponse__Output>
  ListStreams: MethodDefinition<_relaycast_v1_ListStreamsRequest, _relaycast_v1_ListStreamsResponse, _relaycast_v1_ListStreamsRequest__Output, _relaycast_v1_ListStreamsResponse__Output>
  RemoveForward: MethodDefinition<_relaycast_v1_RemoveForwardRequest, _relaycast_v1_RemoveForwardResponse, _relaycast_v1_RemoveForwardRequest__Output, _relaycast_v1_RemoveForwardResponse__Output>
  ResetChannelKey: MethodDefinition<_relaycast_v1_ResetChannelKeyRequest, _relaycast_v1_ResetChannelKeyResponse, _relaycast_v1_ResetChannelKeyRequest__Output, _relaycast_v1_ResetChannelKeyResponse__Output>
  Resolve: MethodDefinition<_relaycast_v1_StreamRef, _relaycast_v1_Route, _relaycast_v1_StreamRef__Output, _relaycast_v1_Route__Output>
  SetBackup: MethodDefinition<_relaycast_v1_SetBackupRequest, _relaycast_v1_SetBackupResponse, _relaycast_v1_SetBackupRequest__Output, _relaycast_v1_SetBackupResponse__Output>
  SwitchChannel: MethodDefinition<_relaycast_v1_SwitchChannelRequest, _relaycast_v1_SwitchChannelResponse, _relaycast_v1_SwitchChannelRequest__Output, _relaycast_v1_SwitchChannelResponse__Output>
  UndrainNode: MethodDefinition<_relaycast_v1_UndrainNodeRequest, _relaycast_v1_UndrainNodeResponse, _relaycast_v1_UndrainNodeRequest__Output, _relaycast_v1_UndrainNodeResponse__Output>
  WatchRoute: MethodDefinition<_relaycast_v1_StreamRef, _relaycast_v1_RouteUpdate, _relaycast_v1_StreamRef__Output, _relaycast_v1_RouteUpdate__Output>
}
