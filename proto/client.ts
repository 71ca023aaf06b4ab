/**
 * Loading the relaycast protos at run time (@grpc/proto-loader, same options the type generator
 * uses — see the proto:gen script) and a small promise client for the control plane, shared by
 * edges (Resolve/WatchRoute) and the CLI. Generated types live in proto/gen/.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync, type MethodDefinition, type Options, type PackageDefinition } from '@grpc/proto-loader';
import type { ProtoGrpcType as ControlProto } from './gen/control.ts';
import type { ProtoGrpcType as HealthProto } from './gen/health.ts';
import type { ControlPlaneClient, ControlPlaneDefinition } from './gen/relaycast/v1/ControlPlane.ts';
import type { PublisherRole__Output } from './gen/relaycast/v1/PublisherRole.ts';
import type { RouteUpdate__Output } from './gen/relaycast/v1/RouteUpdate.ts';

export const PROTO_DIR = dirname(fileURLToPath(import.meta.url));
export const CONTROL_PROTO = 'relaycast/v1/control.proto';
export const HEALTH_PROTO = 'grpc/health/v1/health.proto';
export const CONTROL_SERVICE = 'relaycast.v1.ControlPlane';

/** Must match the flags of the proto:gen script (package.json) so types and runtime agree. */
export const LOADER_OPTIONS: Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  includeDirs: [PROTO_DIR],
};

let cached: { definition: PackageDefinition; proto: ControlProto & HealthProto } | undefined;

export function loadProtos(): { definition: PackageDefinition; proto: ControlProto & HealthProto } {
  if (!cached) {
    const definition = loadSync([CONTROL_PROTO, HEALTH_PROTO], LOADER_OPTIONS);
    cached = {
      definition,
      proto: grpc.loadPackageDefinition(definition) as unknown as ControlProto & HealthProto,
    };
  }
  return cached;
}

export type Role = 'primary' | 'backup';

export function roleToProto(role: Role | undefined): PublisherRole__Output {
  if (role === 'backup') return 'PUBLISHER_ROLE_BACKUP';
  if (role === 'primary') return 'PUBLISHER_ROLE_PRIMARY';
  return 'PUBLISHER_ROLE_UNSPECIFIED';
}

export function roleFromProto(role: string | number | undefined): Role | undefined {
  if (role === 'PUBLISHER_ROLE_BACKUP' || role === 2) return 'backup';
  if (role === 'PUBLISHER_ROLE_PRIMARY' || role === 1) return 'primary';
  return undefined;
}

/** `host:port` or `grpc://host:port` → what grpc-js dials. */
export function grpcTarget(address: string): string {
  return address.replace(/^grpc:\/\//, '').replace(/\/$/, '');
}

type Defs = ControlPlaneDefinition;
/** Unary methods (everything but the WatchRoute stream), PascalCase as in the .proto. */
export type UnaryMethod = Exclude<keyof Defs, 'WatchRoute'>;
type ReqOf<K extends UnaryMethod> =
  Defs[K] extends MethodDefinition<infer R, infer _S, infer _T, infer _U> ? R : never;
type ResOf<K extends UnaryMethod> =
  Defs[K] extends MethodDefinition<infer _R, infer _S, infer _T, infer U> ? U : never;

/**
 * Promise wrapper over the generated client. The token goes in `authorization` metadata on every
 * call (grpc-js refuses call credentials on plaintext channels, and the cluster runs plaintext
 * inside the pod network).
 */
export class ControlPlaneApi {
  readonly client: ControlPlaneClient;
  readonly target: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(address: string, options: { token?: string | undefined; timeoutMs?: number } = {}) {
    const { proto } = loadProtos();
    this.target = grpcTarget(address);
    this.client = new proto.relaycast.v1.ControlPlane(this.target, grpc.credentials.createInsecure(), {
      // Reconnect quickly after a control plane restart.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2000,
    });
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    if (this.token) md.set('authorization', `Bearer ${this.token}`);
    return md;
  }

  call<K extends UnaryMethod>(method: K, req: ReqOf<K>, timeoutMs = this.timeoutMs): Promise<ResOf<K>> {
    return new Promise((resolve, reject) => {
      const fn = (this.client as unknown as Record<string, unknown>)[method as string] as (
        req: ReqOf<K>,
        md: grpc.Metadata,
        options: grpc.CallOptions,
        cb: (err: grpc.ServiceError | null, res?: ResOf<K>) => void,
      ) => grpc.ClientUnaryCall;
      fn.call(this.client, req, this.metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(err);
        else resolve(res as ResOf<K>);
      });
    });
  }

  watchRoute(app: string, name: string): grpc.ClientReadableStream<RouteUpdate__Output> {
    return this.client.watchRoute({ app, name }, this.metadata());
  }

  close(): void {
    this.client.close();
  }
}
