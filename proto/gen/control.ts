import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AddForwardRequest as _relaycast_v1_AddForwardRequest, AddForwardRequest__Output as _relaycast_v1_AddForwardRequest__Output } from './relaycast/v1/AddForwardRequest.ts';
import type { Channel as _relaycast_v1_Channel, Channel__Output as _relaycast_v1_Channel__Output } from './relaycast/v1/Channel.ts';
import type { ChannelForward as _relaycast_v1_ChannelForward, ChannelForward__Output as _relaycast_v1_ChannelForward__Output } from './relaycast/v1/ChannelForward.ts';
import type { ChannelSource as _relaycast_v1_ChannelSource, ChannelSource__Output as _relaycast_v1_ChannelSource__Output } from './relaycast/v1/ChannelSource.ts';
import type { Codecs as _relaycast_v1_Codecs, Codecs__Output as _relaycast_v1_Codecs__Output } from './relaycast/v1/Codecs.ts';
import type { ControlPlaneClient as _relaycast_v1_ControlPlaneClient, ControlPlaneDefinition as _relaycast_v1_ControlPlaneDefinition } from './relaycast/v1/ControlPlane.ts';
import type { CreateChannelRequest as _relaycast_v1_CreateChannelRequest, CreateChannelRequest__Output as _relaycast_v1_CreateChannelRequest__Output } from './relaycast/v1/CreateChannelRequest.ts';
import type { CreateChannelResponse as _relaycast_v1_CreateChannelResponse, CreateChannelResponse__Output as _relaycast_v1_CreateChannelResponse__Output } from './relaycast/v1/CreateChannelResponse.ts';
import type { DeleteChannelResponse as _relaycast_v1_DeleteChannelResponse, DeleteChannelResponse__Output as _relaycast_v1_DeleteChannelResponse__Output } from './relaycast/v1/DeleteChannelResponse.ts';
import type { DrainNodeRequest as _relaycast_v1_DrainNodeRequest, DrainNodeRequest__Output as _relaycast_v1_DrainNodeRequest__Output } from './relaycast/v1/DrainNodeRequest.ts';
import type { DrainNodeResponse as _relaycast_v1_DrainNodeResponse, DrainNodeResponse__Output as _relaycast_v1_DrainNodeResponse__Output } from './relaycast/v1/DrainNodeResponse.ts';
import type { FailoverPolicy as _relaycast_v1_FailoverPolicy, FailoverPolicy__Output as _relaycast_v1_FailoverPolicy__Output } from './relaycast/v1/FailoverPolicy.ts';
import type { KickStreamRequest as _relaycast_v1_KickStreamRequest, KickStreamRequest__Output as _relaycast_v1_KickStreamRequest__Output } from './relaycast/v1/KickStreamRequest.ts';
import type { KickStreamResponse as _relaycast_v1_KickStreamResponse, KickStreamResponse__Output as _relaycast_v1_KickStreamResponse__Output } from './relaycast/v1/KickStreamResponse.ts';
import type { ListChannelsRequest as _relaycast_v1_ListChannelsRequest, ListChannelsRequest__Output as _relaycast_v1_ListChannelsRequest__Output } from './relaycast/v1/ListChannelsRequest.ts';
import type { ListChannelsResponse as _relaycast_v1_ListChannelsResponse, ListChannelsResponse__Output as _relaycast_v1_ListChannelsResponse__Output } from './relaycast/v1/ListChannelsResponse.ts';
import type { ListNodesRequest as _relaycast_v1_ListNodesRequest, ListNodesRequest__Output as _relaycast_v1_ListNodesRequest__Output } from './relaycast/v1/ListNodesRequest.ts';
import type { ListNodesResponse as _relaycast_v1_ListNodesResponse, ListNodesResponse__Output as _relaycast_v1_ListNodesResponse__Output } from './relaycast/v1/ListNodesResponse.ts';
import type { ListStreamsRequest as _relaycast_v1_ListStreamsRequest, ListStreamsRequest__Output as _relaycast_v1_ListStreamsRequest__Output } from './relaycast/v1/ListStreamsRequest.ts';
import type { ListStreamsResponse as _relaycast_v1_ListStreamsResponse, ListStreamsResponse__Output as _relaycast_v1_ListStreamsResponse__Output } from './relaycast/v1/ListStreamsResponse.ts';
import type { Node as _relaycast_v1_Node, Node__Output as _relaycast_v1_Node__Output } from './relaycast/v1/Node.ts';
import type { NodeLoad as _relaycast_v1_NodeLoad, NodeLoad__Output as _relaycast_v1_NodeLoad__Output } from './relaycast/v1/NodeLoad.ts';
import type { Publisher as _relaycast_v1_Publisher, Publisher__Output as _relaycast_v1_Publisher__Output } from './relaycast/v1/Publisher.ts';
import type { RemoveForwardRequest as _relaycast_v1_RemoveForwardRequest, RemoveForwardRequest__Output as _relaycast_v1_RemoveForwardRequest__Output } from './relaycast/v1/RemoveForwardRequest.ts';
import type { RemoveForwardResponse as _relaycast_v1_RemoveForwardResponse, RemoveForwardResponse__Output as _relaycast_v1_RemoveForwardResponse__Output } from './relaycast/v1/RemoveForwardResponse.ts';
import type { ResetChannelKeyRequest as _relaycast_v1_ResetChannelKeyRequest, ResetChannelKeyRequest__Output as _relaycast_v1_ResetChannelKeyRequest__Output } from './relaycast/v1/ResetChannelKeyRequest.ts';
import type { ResetChannelKeyResponse as _relaycast_v1_ResetChannelKeyResponse, ResetChannelKeyResponse__Output as _relaycast_v1_ResetChannelKeyResponse__Output } from './relaycast/v1/ResetChannelKeyResponse.ts';
import type { Route as _relaycast_v1_Route, Route__Output as _relaycast_v1_Route__Output } from './relaycast/v1/Route.ts';
import type { RouteUpdate as _relaycast_v1_RouteUpdate, RouteUpdate__Output as _relaycast_v1_RouteUpdate__Output } from './relaycast/v1/RouteUpdate.ts';
import type { SetBackupRequest as _relaycast_v1_SetBackupRequest, SetBackupRequest__Output as _relaycast_v1_SetBackupRequest__Output } from './relaycast/v1/SetBackupRequest.ts';
import type { SetBackupResponse as _relaycast_v1_SetBackupResponse, SetBackupResponse__Output as _relaycast_v1_SetBackupResponse__Output } from './relaycast/v1/SetBackupResponse.ts';
import type { StreamInfo as _relaycast_v1_StreamInfo, StreamInfo__Output as _relaycast_v1_StreamInfo__Output } from './relaycast/v1/StreamInfo.ts';
import type { StreamRef as _relaycast_v1_StreamRef, StreamRef__Output as _relaycast_v1_StreamRef__Output } from './relaycast/v1/StreamRef.ts';
import type { SwitchChannelRequest as _relaycast_v1_SwitchChannelRequest, SwitchChannelRequest__Output as _relaycast_v1_SwitchChannelRequest__Output } from './relaycast/v1/SwitchChannelRequest.ts';
import type { SwitchChannelResponse as _relaycast_v1_SwitchChannelResponse, SwitchChannelResponse__Output as _relaycast_v1_SwitchChannelResponse__Output } from './relaycast/v1/SwitchChannelResponse.ts';
import type { SwitchEvent as _relaycast_v1_SwitchEvent, SwitchEvent__Output as _relaycast_v1_SwitchEvent__Output } from './relaycast/v1/SwitchEvent.ts';
import type { UndrainNodeRequest as _relaycast_v1_UndrainNodeRequest, UndrainNodeRequest__Output as _relaycast_v1_UndrainNodeRequest__Output } from './relaycast/v1/UndrainNodeRequest.ts';
import type { UndrainNodeResponse as _relaycast_v1_UndrainNodeResponse, UndrainNodeResponse__Output as _relaycast_v1_UndrainNodeResponse__Output } from './relaycast/v1/UndrainNodeResponse.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  relaycast: {
    v1: {
      AddForwardRequest: MessageTypeDefinition<_relaycast_v1_AddForwardRequest, _relaycast_v1_AddForwardRequest__Output>
      Channel: MessageTypeDefinition<_relaycast_v1_Channel, _relaycast_v1_Channel__Output>
      ChannelForward: MessageTypeDefinition<_relaycast_v1_ChannelForward, _relaycast_v1_ChannelForward__Output>
      ChannelSource: MessageTypeDefinition<_relaycast_v1_ChannelSource, _relaycast_v1_ChannelSource__Output>
      Codecs: MessageTypeDefinition<_relaycast_v1_Codecs, _relaycast_v1_Codecs__Output>
      ControlPlane: SubtypeConstructor<typeof grpc.Client, _relaycast_v1_ControlPlaneClient> & { service: _relaycast_v1_ControlPlaneDefinition }
      CreateChannelRequest: MessageTypeDefinition<_relaycast_v1_CreateChannelRequest, _relaycast_v1_CreateChannelRequest__Output>
      CreateChannelResponse: MessageTypeDefinition<_relaycast_v1_CreateChannelResponse, _relaycast_v1_CreateChannelResponse__Output>
      DeleteChannelResponse: MessageTypeDefinition<_relaycast_v1_DeleteChannelResponse, _relaycast_v1_DeleteChannelResponse__Output>
      DrainNodeRequest: MessageTypeDefinition<_relaycast_v1_DrainNodeRequest, _relaycast_v1_DrainNodeRequest__Output>
      DrainNodeResponse: MessageTypeDefinition<_relaycast_v1_DrainNodeResponse, _relaycast_v1_DrainNodeResponse__Output>
      FailoverPolicy: MessageTypeDefinition<_relaycast_v1_FailoverPolicy, _relaycast_v1_FailoverPolicy__Output>
      KickStreamRequest: MessageTypeDefinition<_relaycast_v1_KickStreamRequest, _relaycast_v1_KickStreamRequest__Output>
      KickStreamResponse: MessageTypeDefinition<_relaycast_v1_KickStreamResponse, _relaycast_v1_KickStreamResponse__Output>
      ListChannelsRequest: MessageTypeDefinition<_relaycast_v1_ListChannelsRequest, _relaycast_v1_ListChannelsRequest__Output>
      ListChannelsResponse: MessageTypeDefinition<_relaycast_v1_ListChannelsResponse, _relaycast_v1_ListChannelsResponse__Output>
      ListNodesRequest: MessageTypeDefinition<_relaycast_v1_ListNodesRequest, _relaycast_v1_ListNodesRequest__Output>
      ListNodesResponse: MessageTypeDefinition<_relaycast_v1_ListNodesResponse, _relaycast_v1_ListNodesResponse__Output>
      ListStreamsRequest: MessageTypeDefinition<_relaycast_v1_ListStreamsRequest, _relaycast_v1_ListStreamsRequest__Output>
      ListStreamsResponse: MessageTypeDefinition<_relaycast_v1_ListStreamsResponse, _relaycast_v1_ListStreamsResponse__Output>
      Node: MessageTypeDefinition<_relaycast_v1_Node, _relaycast_v1_Node__Output>
      NodeLoad: MessageTypeDefinition<_relaycast_v1_NodeLoad, _relaycast_v1_NodeLoad__Output>
      Publisher: MessageTypeDefinition<_relaycast_v1_Publisher, _relaycast_v1_Publisher__Output>
      PublisherRole: EnumTypeDefinition
      RemoveForwardRequest: MessageTypeDefinition<_relaycast_v1_RemoveForwardRequest, _relaycast_v1_RemoveForwardRequest__Output>
      RemoveForwardResponse: MessageTypeDefinition<_relaycast_v1_RemoveForwardResponse, _relaycast_v1_RemoveForwardResponse__Output>
      ResetChannelKeyRequest: MessageTypeDefinition<_relaycast_v1_ResetChannelKeyRequest, _relaycast_v1_ResetChannelKeyRequest__Output>
      ResetChannelKeyResponse: MessageTypeDefinition<_relaycast_v1_ResetChannelKeyResponse, _relaycast_v1_ResetChannelKeyResponse__Output>
      Route: MessageTypeDefinition<_relaycast_v1_Route, _relaycast_v1_Route__Output>
      RouteUpdate: MessageTypeDefinition<_relaycast_v1_RouteUpdate, _relaycast_v1_RouteUpdate__Output>
      SetBackupRequest: MessageTypeDefinition<_relaycast_v1_SetBackupRequest, _relaycast_v1_SetBackupRequest__Output>
      SetBackupResponse: MessageTypeDefinition<_relaycast_v1_SetBackupResponse, _relaycast_v1_SetBackupResponse__Output>
      StreamInfo: MessageTypeDefinition<_relaycast_v1_StreamInfo, _relaycast_v1_StreamInfo__Output>
      StreamRef: MessageTypeDefinition<_relaycast_v1_StreamRef, _relaycast_v1_StreamRef__Output>
      SwitchChannelRequest: MessageTypeDefinition<_relaycast_v1_SwitchChannelRequest, _relaycast_v1_SwitchChannelRequest__Output>
      SwitchChannelResponse: MessageTypeDefinition<_relaycast_v1_SwitchChannelResponse, _relaycast_v1_SwitchChannelResponse__Output>
      SwitchEvent: MessageTypeDefinition<_relaycast_v1_SwitchEvent, _relaycast_v1_SwitchEvent__Output>
      UndrainNodeRequest: MessageTypeDefinition<_relaycast_v1_UndrainNodeRequest, _relaycast_v1_UndrainNodeRequest__Output>
      UndrainNodeResponse: MessageTypeDefinition<_relaycast_v1_UndrainNodeResponse, _relaycast_v1_UndrainNodeResponse__Output>
    }
  }
}

