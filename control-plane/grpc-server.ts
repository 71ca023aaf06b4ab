/**
 * The control plane's gRPC server (@grpc/grpc-js): relaycast.v1.ControlPlane, the standard
 * grpc.health.v1 health service and server reflection. Handlers are thin: they check the token,
 * translate messages and call ControlService; errors become status codes with a message that says
 * what to do.
 */
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { errorStatus, RelaycastError } from '../core/errors.ts';
import { isLoopbackAddress, parseBearer, secretEquals } from '../core/http-util.ts';
import type { Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import type { Registry } from '../core/registry/registry.ts';
import type { Route } from '../core/registry/route.ts';
import { type NodeRecord, type RegistryEvent, routeEventStreamId } from '../core/registry/types.ts';
import { CONTROL_SERVICE, loadProtos, roleFromProto, roleToProto } from '../proto/client.ts';
import type { HealthCheckResponse } from '../proto/gen/grpc/health/v1/HealthCheckResponse.ts';
import type { Channel } from '../proto/gen/relaycast/v1/Channel.ts';
import type { ChannelForward } from '../proto/gen/relaycast/v1/ChannelForward.ts';
import type { ChannelSource as ProtoChannelSource } from '../proto/gen/relaycast/v1/ChannelSource.ts';
import type { ControlPlaneHandlers } from '../proto/gen/relaycast/v1/ControlPlane.ts';
import type { FailoverPolicy__Output } from '../proto/gen/relaycast/v1/FailoverPolicy.ts';
import type { Node } from '../proto/gen/relaycast/v1/Node.ts';
import type { Route as ProtoRoute } from '../proto/gen/relaycast/v1/Route.ts';
import type { RouteUpdate } from '../proto/gen/relaycast/v1/RouteUpdate.ts';
import type { StreamInfo } from '../proto/gen/relaycast/v1/StreamInfo.ts';
import type { ChannelView, ControlService, FailoverPolicy, ForwardView, StreamView } from './service.ts';

export interface GrpcServerOptions {
  host: string;
  port: number;
  adminToken: string | undefined;
  clusterToken: string | undefined;
  /** Safety net for WatchRoute: re-resolve watched streams this often even without events. */
  watchRecheckMs: number;
}

export function toProtoRoute(r: Route): ProtoRoute {
  return {
    app: r.app,
    name: r.name,
    originNodeId: r.originNodeId,
    originUrl: r.originUrl,
    pullUrl: r.pullUrl,
    generation: r.generation,
    role: roleToProto(r.role),
  };
}

function toProtoSource(src: ChannelView['source']): ProtoChannelSource | null {
  return src
    ? {
        url: src.url,
        interface: src.interfaceAddress ?? '',
        state: src.status?.state ?? '',
        bitrateKbps: src.status?.bitrateKbps ?? 0,
        ccErrors: src.status?.ccErrors ?? 0,
        lastPacketMs: src.status?.lastPacketAt ?? 0,
        packets: src.status?.packets ?? 0,
        nodeId: src.status?.nodeId ?? '',
      }
    : null;
}

function toProtoChannel(c: ChannelView): Channel {
  return {
    app: c.app,
    name: c.name,
    hasBackup: c.hasBackup,
    createdAtMs: c.createdAt,
    failover: c.failover,
    activeRole: roleToProto(c.activeRole),
    fromConfig: c.fromConfig,
    source: toProtoSource(c.source),
    backupSource: toProtoSource(c.backupSource),
    hlsEncryption: c.hlsEncryption ?? '',
    forwards: c.forwards.map(toProtoForward),
  };
}

function toProtoForward(f: ForwardView): ChannelForward {
  return {
    id: f.id,
    url: f.url,
    state: f.state,
    bytesSent: f.bytesSent,
    reconnects: f.reconnects,
    skips: f.skips,
    lastError: f.lastError ?? '',
    nodeId: f.nodeId ?? '',
    role: roleToProto(f.role),
  };
}

function toProtoStream(s: StreamView): StreamInfo {
  return {
    app: s.app,
    name: s.name,
    activeRole: roleToProto(s.activeRole),
    ...(s.route ? { route: toProtoRoute(s.route) } : {}),
    hasChannel: s.hasChannel,
    publishers: s.publishers.map((p) => ({
      role: roleToProto(p.role),
      originNodeId: p.record.originNodeId,
      originUrl: p.record.originUrl,
      generation: p.record.generation,
      startedAtMs: p.record.startedAt,
      codecs: {
        videoCodec: p.record.codecs?.video?.codec ?? '',
        width: p.record.codecs?.video?.width ?? 0,
        height: p.record.codecs?.video?.height ?? 0,
        frameRate: p.record.codecs?.video?.frameRate ?? 0,
        audioCodec: p.record.codecs?.audio?.codec ?? '',
        audioSampleRateHz: p.record.codecs?.audio?.sampleRateHz ?? 0,
        audioChannels: p.record.codecs?.audio?.channels ?? 0,
      },
      bitrateKbps: Math.max(0, Math.round(p.record.bitrateKbps ?? 0)),
      lastMediaAtMs: p.record.lastMediaAt ?? 0,
      stalled: p.stalled,
    })),
    switches: s.switches.map((w) => ({
      atMs: w.at,
      from: roleToProto(w.from),
      to: roleToProto(w.to),
      reason: w.reason,
      by: w.by,
    })),
  };
}

function toProtoNode(n: NodeRecord): Node {
  return {
    id: n.id,
    role: n.role,
    advertiseHost: n.advertiseHost,
    internalUrl: n.internalUrl ?? '',
    httpUrl: n.httpUrl ?? '',
    rtmpUrl: n.rtmpUrl ?? '',
    grpcUrl: n.grpcUrl ?? '',
    adminUrl: n.adminUrl ?? '',
    load: n.load,
    draining: n.draining,
    startedAtMs: n.startedAt,
    updatedAtMs: n.updatedAt,
    version: n.version,
    leader: n.leader ?? false,
  };
}

function policyFrom(p: FailoverPolicy__Output | null | undefined): Partial<FailoverPolicy> | undefined {
  if (!p) return undefined;
  return { autoRevert: p.autoRevert, revertAfterMs: p.revertAfterMs, noMediaTimeoutMs: p.noMediaTimeoutMs };
}

/** grpc-js server peers are `<remoteAddress>:<remotePort>`. */
function peerIsLoopback(peer: string): boolean {
  return isLoopbackAddress(peer.replace(/:\d+$/, ''));
}

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

/** One shared watch per stream: resolves once per change and fans out to every WatchRoute call. */
class RouteWatches {
  private readonly service: ControlService;
  private readonly log: Logger;
  private readonly watches = new Map<
    string,
    { app: string; name: string; last: string; calls: Set<(u: RouteUpdate) => void> }
  >();
  private timer: NodeJS.Timeout | undefined;
  private readonly onEvent: (e: RegistryEvent) => void;
  private readonly registry: Registry;

  constructor(registry: Registry, service: ControlService, recheckMs: number, log: Logger) {
    this.registry = registry;
    this.service = service;
    this.log = log;
    this.onEvent = (e) => {
      const id = routeEventStreamId(e);
      if (id) void this.refresh(id, e.type === 'route-changed' ? 'switch' : e.type);
      else if (e.type === 'node-draining') for (const w of this.watches.keys()) void this.refresh(w, e.type);
    };
    registry.on('event', this.onEvent);
    this.timer = setInterval(() => {
      for (const id of this.watches.keys()) void this.refresh(id, 'recheck');
    }, recheckMs);
    this.timer.unref();
  }

  get size(): number {
    let n = 0;
    for (const w of this.watches.values()) n += w.calls.size;
    return n;
  }

  private static key(update: RouteUpdate): string {
    const r = update.route;
    return update.live && r ? `${r.pullUrl}|${r.generation}|${r.role}` : 'down';
  }

  private async current(app: string, name: string, reason: string): Promise<RouteUpdate> {
    const route = await this.service.resolve(app, name);
    return route ? { live: true, route: toProtoRoute(route), reason } : { live: false, reason };
  }

  async add(app: string, name: string, send: (u: RouteUpdate) => void): Promise<() => void> {
    const id = `${app}/${name}`;
    const first = await this.current(app, name, 'initial');
    let w = this.watches.get(id);
    if (!w) {
      w = { app, name, last: RouteWatches.key(first), calls: new Set() };
      this.watches.set(id, w);
    }
    w.calls.add(send);
    send(first);
    const watch = w;
    return () => {
      watch.calls.delete(send);
      if (watch.calls.size === 0 && this.watches.get(id) === watch) this.watches.delete(id);
    };
  }

  private async refresh(id: string, reason: string): Promise<void> {
    const w = this.watches.get(id);
    if (!w) return;
    let update: RouteUpdate;
    try {
      update = await this.current(w.app, w.name, reason);
    } catch (err) {
      this.log.debug({ err: (err as Error).message, stream: id }, 'route refresh failed');
      return;
    }
    const key = RouteWatches.key(update);
    if (key === w.last) return;
    w.last = key;
    for (const send of w.calls) send(update);
  }

  close(): void {
    this.registry.off('event', this.onEvent);
    if (this.timer) clearInterval(this.timer);
  }
}

export class ControlPlaneGrpcServer {
  readonly server = new grpc.Server({ 'grpc.max_receive_message_length': 1024 * 1024 });
  private readonly options: GrpcServerOptions;
  private readonly service: ControlService;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly watches: RouteWatches;
  private serving = true;
  private readonly healthWatchers = new Set<(s: HealthCheckResponse) => void>();
  private readonly streams = new Set<grpc.ServerWritableStream<unknown, unknown>>();

  constructor(options: GrpcServerOptions, service: ControlService, metrics: Metrics, log: Logger) {
    this.options = options;
    this.service = service;
    this.metrics = metrics;
    this.log = log.child({ component: 'grpc' });
    this.watches = new RouteWatches(service.registry, service, options.watchRecheckMs, this.log);
    const { proto, definition } = loadProtos();
    this.server.addService(proto.relaycast.v1.ControlPlane.service, this.handlers());
    this.server.addService(proto.grpc.health.v1.Health.service, {
      Check: (
        call: grpc.ServerUnaryCall<{ service: string }, HealthCheckResponse>,
        cb: grpc.sendUnaryData<HealthCheckResponse>,
      ) => {
        const svc = call.request.service;
        if (svc !== '' && svc !== CONTROL_SERVICE) {
          cb({ code: grpc.status.NOT_FOUND, details: `unknown service '${svc}'` });
          return;
        }
        cb(null, { status: this.serving ? 'SERVING' : 'NOT_SERVING' });
      },
      Watch: (call: grpc.ServerWritableStream<{ service: string }, HealthCheckResponse>) => {
        const svc = call.request.service;
        if (svc !== '' && svc !== CONTROL_SERVICE) {
          call.write({ status: 'SERVICE_UNKNOWN' });
          return;
        }
        const send = (s: HealthCheckResponse) => call.write(s);
        this.healthWatchers.add(send);
        this.streams.add(call as grpc.ServerWritableStream<unknown, unknown>);
        call.on('cancelled', () => {
          this.healthWatchers.delete(send);
          this.streams.delete(call as grpc.ServerWritableStream<unknown, unknown>);
        });
        send({ status: this.serving ? 'SERVING' : 'NOT_SERVING' });
      },
    });
    new ReflectionService(definition).addToServer(this.server);
  }

  get routeWatchers(): number {
    return this.watches.size;
  }

  /** Token check: admin calls need the admin token (or loopback without one); reads accept either token. */
  private authorize(call: AnyCall, admin: boolean): void {
    const { adminToken, clusterToken } = this.options;
    const header = call.metadata.get('authorization')[0];
    const presented = parseBearer(typeof header === 'string' ? header : undefined);
    const ok = (t: string | undefined) => !!t && presented !== undefined && secretEquals(presented, t);
    if (admin) {
      if (adminToken ? ok(adminToken) : peerIsLoopback(call.getPeer())) return;
    } else if ((!adminToken && !clusterToken) || ok(adminToken) || ok(clusterToken)) return;
    this.metrics.authFailures.inc({ surface: 'admin', reason: 'RC_ADMIN_UNAUTHORIZED' });
    throw new RelaycastError(
      'RC_ADMIN_UNAUTHORIZED',
      admin && !adminToken
        ? 'without --admin-token, admin calls are only accepted from localhost'
        : `send ${admin ? 'the admin token' : 'the cluster or admin token'} as "authorization: Bearer <token>" metadata (relaycast CLI: --admin-token)`,
    );
  }

  /** Wraps a unary handler: auth, metrics, error mapping. */
  private unary<Req, Res>(
    method: string,
    admin: boolean,
    fn: (req: Req) => Promise<Res>,
  ): (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => void {
    return (call, cb) => {
      const end = this.metrics.grpcDuration.startTimer({ method });
      (async () => {
        this.authorize(call as AnyCall, admin);
        return fn(call.request);
      })().then(
        (res) => {
          end();
          this.metrics.grpcRequests.inc({ method, code: 'OK' });
          cb(null, res);
        },
        (err: unknown) => {
          end();
          const status = errorStatus(err);
          const code: grpc.status = status.grpc;
          this.metrics.grpcRequests.inc({ method, code: grpc.status[code] ?? String(code) });
          if (code === grpc.status.INTERNAL) this.log.error({ err, method }, 'gRPC call failed');
          // The stable RC_* code travels as metadata, so `relaycast … --json` can print it.
          const metadata = new grpc.Metadata();
          metadata.set('rc-code', status.code);
          cb({ code, details: (err as Error).message, metadata });
        },
      );
    };
  }

  private handlers(): ControlPlaneHandlers {
    const s = this.service;
    const app = (a: string) => a || 'live';
    return {
      Resolve: this.unary('Resolve', false, async (req: { app: string; name: string }) => {
        const route = await s.resolve(app(req.app), req.name);
        if (!route)
          throw new RelaycastError('RC_NOT_FOUND', `stream ${app(req.app)}/${req.name} is not live`);
        return toProtoRoute(route);
      }),
      WatchRoute: (call) => {
        try {
          this.authorize(call as AnyCall, false);
        } catch (err) {
          this.metrics.grpcRequests.inc({ method: 'WatchRoute', code: 'UNAUTHENTICATED' });
          call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: (err as Error).message });
          return;
        }
        this.metrics.grpcRequests.inc({ method: 'WatchRoute', code: 'OK' });
        this.streams.add(call as grpc.ServerWritableStream<unknown, unknown>);
        let unwatch: (() => void) | undefined;
        let done = false;
        const finish = () => {
          done = true;
          unwatch?.();
          this.streams.delete(call as grpc.ServerWritableStream<unknown, unknown>);
        };
        call.on('cancelled', finish);
        call.on('close', finish);
        this.watches
          .add(app(call.request.app), call.request.name, (u) => {
            if (!done) call.write(u);
          })
          .then(
            (fn) => {
              if (done) fn();
              else unwatch = fn;
            },
            (err: unknown) => {
              finish();
              call.emit('error', {
                code: errorStatus(err).grpc,
                details: (err as Error).message,
              });
            },
          );
      },
      ListStreams: this.unary('ListStreams', false, async (req: { app: string }) => ({
        streams: (await s.listStreams(req.app || undefined)).map(toProtoStream),
      })),
      GetStream: this.unary('GetStream', false, async (req: { app: string; name: string }) =>
        toProtoStream(await s.getStream(app(req.app), req.name)),
      ),
      KickStream: this.unary(
        'KickStream',
        true,
        async (req: { app: string; name: string; role: string }) => ({
          kicked: await s.kick(app(req.app), req.name, roleFromProto(req.role), 'kicked-by-admin'),
        }),
      ),
      CreateChannel: this.unary(
        'CreateChannel',
        true,
        async (req: {
          app: string;
          name: string;
          backup: boolean;
          failover: FailoverPolicy__Output | null;
          source: { url: string; interface: string } | null;
          backupSource: { url: string; interface: string } | null;
          hlsEncryption: string;
          forwards: string[];
        }) => {
          const policy = policyFrom(req.failover);
          const res = await s.createChannel(app(req.app), req.name, {
            backup: req.backup,
            ...(policy ? { failover: policy } : {}),
            ...(req.source?.url
              ? {
                  source: {
                    url: req.source.url,
                    ...(req.source.interface ? { interfaceAddress: req.source.interface } : {}),
                  },
                }
              : {}),
            ...(req.backupSource?.url
              ? {
                  backupSource: {
                    url: req.backupSource.url,
                    ...(req.backupSource.interface ? { interfaceAddress: req.backupSource.interface } : {}),
                  },
                }
              : {}),
            ...(req.hlsEncryption ? { hlsEncryption: req.hlsEncryption } : {}),
            ...(req.forwards?.length ? { forwards: req.forwards } : {}),
          });
          return { channel: toProtoChannel(res.channel), key: res.key, backupKey: res.backupKey ?? '' };
        },
      ),
      ListChannels: this.unary('ListChannels', false, async (req: { app: string }) => ({
        channels: (await s.listChannels(req.app || undefined)).map(toProtoChannel),
      })),
      GetChannel: this.unary('GetChannel', false, async (req: { app: string; name: string }) =>
        toProtoChannel(await s.getChannel(app(req.app), req.name)),
      ),
      DeleteChannel: this.unary('DeleteChannel', true, async (req: { app: string; name: string }) =>
        s.deleteChannel(app(req.app), req.name),
      ),
      ResetChannelKey: this.unary(
        'ResetChannelKey',
        true,
        async (req: { app: string; name: string; role: string }) => {
          const res = await s.resetKey(app(req.app), req.name, roleFromProto(req.role) ?? 'primary');
          return { channel: toProtoChannel(res.channel), key: res.key, kicked: res.kicked };
        },
      ),
      SetBackup: this.unary(
        'SetBackup',
        true,
        async (req: {
          app: string;
          name: string;
          enabled: boolean;
          failover: FailoverPolicy__Output | null;
        }) => {
          const res = await s.setBackup(app(req.app), req.name, req.enabled, policyFrom(req.failover));
          return { channel: toProtoChannel(res.channel), backupKey: res.backupKey ?? '' };
        },
      ),
      AddForward: this.unary('AddForward', true, async (req: { app: string; name: string; url: string }) =>
        toProtoForward(await s.addForward(app(req.app), req.name, req.url)),
      ),
      RemoveForward: this.unary(
        'RemoveForward',
        true,
        async (req: { app: string; name: string; id: string }) => {
          await s.removeForward(app(req.app), req.name, req.id);
          return {};
        },
      ),
      SwitchChannel: this.unary(
        'SwitchChannel',
        true,
        async (req: { app: string; name: string; to: string; reason: string; force: boolean }) => {
          const to = roleFromProto(req.to);
          if (!to)
            throw new RelaycastError('RC_BAD_REQUEST', 'set `to` to PUBLISHER_ROLE_PRIMARY or _BACKUP');
          const res = await s.switchChannel(app(req.app), req.name, to, req.reason, req.force);
          return {
            activeRole: roleToProto(res.activeRole),
            ...(res.route ? { route: toProtoRoute(res.route) } : {}),
          };
        },
      ),
      ListNodes: this.unary('ListNodes', false, async (req: { role: string }) => ({
        nodes: (await s.listNodes(req.role || undefined)).map(toProtoNode),
      })),
      DrainNode: this.unary('DrainNode', true, async (req: { nodeId: string }) => {
        await s.drainNode(req.nodeId);
        return { accepted: true };
      }),
      UndrainNode: this.unary('UndrainNode', true, async (req: { nodeId: string }) => {
        await s.undrainNode(req.nodeId);
        return { accepted: true };
      }),
    };
  }

  async listen(): Promise<number> {
    const { host, port } = this.options;
    const bindHost = host.includes(':') ? `[${host}]` : host;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${bindHost}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
        if (err)
          reject(
            /EADDRINUSE/.test(err.message)
              ? new RelaycastError(
                  'RC_PORT_IN_USE',
                  `port ${host}:${port} (--grpc-port) is already in use by another process; stop that process or start with --grpc-port set to a free port`,
                  { cause: err },
                )
              : new RelaycastError(
                  'RC_CONFIG_INVALID',
                  `cannot listen for gRPC on ${host}:${port}: ${err.message}; pick another --grpc-port`,
                  { cause: err },
                ),
          );
        else resolve(bound);
      });
    });
  }

  /** Health goes NOT_SERVING (so load balancers and probes move away) before the close. */
  setServing(serving: boolean): void {
    this.serving = serving;
    for (const send of this.healthWatchers) send({ status: serving ? 'SERVING' : 'NOT_SERVING' });
  }

  async close(): Promise<void> {
    this.setServing(false);
    this.watches.close();
    for (const call of this.streams) call.end();
    this.streams.clear();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2000);
      t.unref();
      this.server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
