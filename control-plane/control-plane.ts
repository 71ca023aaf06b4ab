/**
 * Assembles the control plane inside a process: leader election, the backup switcher (leader
 * only), the gRPC server, the REST admin routes and the node heartbeat. `relaycast control-plane`
 * runs it alone; `relaycast all` runs it beside origin and edge on the in-memory registry.
 */
import type { AdminHttpServer } from '../core/admin-http.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import { startNodeHeartbeat } from '../core/registry/heartbeat.ts';
import type { Registry } from '../core/registry/registry.ts';
import { ControlPlaneGrpcServer } from './grpc-server.ts';
import { type LeaderElector, LockLeaderElector } from './leader.ts';
import { registerControlRoutes } from './rest.ts';
import { ControlService, type SourceStatus } from './service.ts';
import { SourceAssigner } from './source-assigner.ts';
import { BackupSwitcher } from './switcher.ts';

export interface ControlPlaneHandle {
  service: ControlService;
  elector: LeaderElector;
  grpcPort: number | undefined;
  /** Health NOT_SERVING, give up leadership (a clean handover). */
  stopAccepting(): Promise<void>;
  close(): Promise<void>;
}

export async function createElector(config: Config, registry: Registry, log: Logger): Promise<LeaderElector> {
  const options = {
    leaseName: config.leaseName,
    identity: config.nodeId,
    leaseDurationMs: config.leaseTtlMs,
  };
  const kube =
    config.leaderElection === 'kubernetes' ||
    (config.leaderElection === 'auto' &&
      !!process.env.KUBERNETES_SERVICE_HOST &&
      config.role === 'control-plane');
  if (kube) {
    const { KubeLeaseElector, podNamespace } = await import('./kube-lease.ts');
    return new KubeLeaseElector({ ...options, namespace: podNamespace() }, log);
  }
  return new LockLeaderElector(registry, options, log);
}

export async function startControlPlane(
  config: Config,
  deps: {
    registry: Registry;
    metrics: Metrics;
    log: Logger;
    admin: AdminHttpServer;
    version: string;
    /** The all-in-one's channel-source status (it receives them); absent elsewhere. */
    sourceStatus?: (app: string, name: string) => SourceStatus | undefined;
  },
): Promise<ControlPlaneHandle> {
  const { registry, metrics, admin, version } = deps;
  const log = deps.log;
  const service = new ControlService(registry, config.nodeId, {
    configChannels: config.channels.map((c) => ({ app: c.app, name: c.name, hasBackup: !!c.backupKey })),
    ...(deps.sourceStatus ? { sourceStatus: deps.sourceStatus } : {}),
  });
  const elector = await createElector(config, registry, log);
  metrics.leader.set(0);
  elector.on('change', (leader: boolean) => metrics.leader.set(leader ? 1 : 0));
  const switcher = new BackupSwitcher(
    registry,
    elector,
    { intervalMs: 500, channelCacheMs: 5000 },
    metrics,
    log,
  );
  const grpc = new ControlPlaneGrpcServer(
    {
      host: config.host,
      port: config.grpcPort,
      adminToken: config.adminToken,
      clusterToken: config.clusterToken,
      watchRecheckMs: 2000,
    },
    service,
    metrics,
    log,
  );
  registerControlRoutes(admin, service);
  let grpcPort: number | undefined;
  try {
    grpcPort = config.grpcPort ? await grpc.listen() : undefined;
  } catch (err) {
    // a busy --grpc-port: stop what the constructors started (the route watches' timer)
    await grpc.close();
    await elector.stop();
    throw err;
  }
  elector.start();
  // The all-in-one switches too: its viewers of a channel with a backup watch a program pull that
  // follows the route (cli/program-feed.ts), like an edge's.
  switcher.start();
  // Cluster origins receive channel sources where the leader puts them (the all-in-one has one).
  const assigner =
    config.role === 'control-plane'
      ? new SourceAssigner(
          registry,
          elector,
          { silentMoveMs: Math.max(2 * config.sourceSilenceTimeoutMs, 5000) },
          log,
        )
      : undefined;
  assigner?.start();
  elector.on('change', (leader: boolean) => {
    if (leader) void assigner?.pass();
  });
  let serving = true;
  admin.readiness.push({ name: 'control-plane', check: () => serving });

  // Only the role's own process heartbeats as a control plane (the all-in-one is one node).
  const startedAt = Date.now();
  const heartbeat =
    config.role === 'control-plane'
      ? startNodeHeartbeat(registry, config.leaseTtlMs, metrics, () => ({
          id: config.nodeId,
          role: 'control-plane',
          advertiseHost: config.advertiseHost,
          ...(grpcPort ? { grpcUrl: `${config.advertiseHost}:${grpcPort}` } : {}),
          ...(config.adminPort ? { adminUrl: `http://${config.advertiseHost}:${config.adminPort}` } : {}),
          load: { streams: 0, viewers: 0, egressMbps: 0, ingressMbps: 0 },
          draining: !serving,
          leader: elector.isLeader(),
          startedAt,
          version,
        }))
      : undefined;
  elector.on('change', () => void heartbeat?.beat());
  log.info({ grpcPort, election: elector.kind, lease: config.leaseName }, 'control plane started');

  return {
    service,
    elector,
    grpcPort,
    async stopAccepting() {
      serving = false;
      grpc.setServing(false);
      switcher.stop();
      assigner?.stop();
      await elector.stop();
    },
    async close() {
      heartbeat?.stop();
      switcher.stop();
      assigner?.stop();
      await elector.stop();
      await grpc.close();
      if (heartbeat) {
        try {
          await registry.removeNode(config.nodeId);
        } catch {
          /* the record expires */
        }
      }
    },
  };
}
