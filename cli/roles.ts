/**
 * Cluster roles as separate processes: origin and edge (the control plane adds itself in
 * control-plane/). They meet only through the registry, HTTP pulls and gRPC.
 */

import { startControlPlane } from '../control-plane/control-plane.ts';
import type { AdminHttpServer } from '../core/admin-http.ts';
import type { Config } from '../core/config.ts';
import { redactedConfig } from '../core/config.ts';
import { RelaycastError } from '../core/errors.ts';
import { InternalHttpServer } from '../core/internal-http.ts';
import { startNodeHeartbeat } from '../core/registry/heartbeat.ts';
import { createRegistry, type Registry } from '../core/registry/registry.ts';
import type { RegistryEvent } from '../core/registry/types.ts';
import { LocalHubSource } from '../core/sources.ts';
import { ControlPlaneResolver } from '../edge/cp-route.ts';
import { RtmpPlayHandler } from '../edge/edge.ts';
import { HlsProxy } from '../edge/hls-proxy.ts';
import { LlHlsProxy } from '../edge/llhls-proxy.ts';
import { EdgePuller, edgePullOptions } from '../edge/pull.ts';
import { RegistryResolver, type RouteResolver } from '../edge/route.ts';
import { type ViewerHttpOptions, ViewerHttpServer } from '../edge/viewer-http.ts';
import { ForwardManager } from '../origin/forward-manager.ts';
import { Origin } from '../origin/origin.ts';
import { PublishAuthorizer, RegistryChannels, StaticChannels } from '../origin/publish-auth.ts';
import { ChannelSourceSync } from '../origin/sources/channel-sync.ts';
import { SourceManager } from '../origin/sources/manager.ts';
import { ControlPlaneApi } from '../proto/client.ts';
import { nodeBase, viewerHttpLimits } from './node-base.ts';
import { RtmpListeners } from './rtmp-listeners.ts';
import { hlsFor, llHlsFor, type RunningNode, startOriginCluster, whepFor } from './run.ts';
import { nonRelayViewers, type ViewerFrontend, WorkerPool } from './workers.ts';

type Started = RunningNode & { ports: Record<string, number> };

export async function startRole(config: Config, version: string): Promise<Started> {
  if (config.role === 'origin') return startOrigin(config, version);
  if (config.role === 'edge') return startEdge(config, version);
  if (config.role === 'control-plane') return startControlPlaneRole(config, version);
  throw new RelaycastError('RC_CONFIG_INVALID', `unknown role ${config.role}`);
}

export async function startControlPlaneRole(config: Config, version: string): Promise<Started> {
  const { log, metrics, admin } = nodeBase(config, version);
  const registry = await connectRegistry(config, admin, metrics, log);
  const cp = await startControlPlane(config, { registry, metrics, log, admin, version });
  const ports: Record<string, number> = {};
  if (cp.grpcPort) ports.grpc = cp.grpcPort;
  if (config.adminPort) ports.admin = await admin.listen();
  log.info({ ports, config: redactedConfig(config) }, 'ready');
  return {
    log,
    metrics,
    ports,
    stopAccepting: () => cp.stopAccepting(),
    viewerCount: () => 0,
    async close() {
      await cp.close();
      await admin.close();
      await registry.close();
    },
  };
}

/**
 * The Redis registry of a cluster role, connected, its health in `relaycast_registry_up`, and
 * GET /api/v1/registry: what it holds (streams with their origins, nodes).
 */
async function connectRegistry(
  config: Config,
  admin: AdminHttpServer,
  metrics: RunningNode['metrics'],
  log: RunningNode['log'],
): Promise<Registry> {
  const registry = await connectWithRetry(config, metrics, log);
  admin.route('GET', '/api/v1/registry', async () => ({
    body: { streams: await registry.listStreams(), nodes: await registry.listNodes() },
  }));
  return registry;
}

const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5000;

/**
 * Connects the registry, waiting for Redis if it is down at start: a dependency that is only
 * temporarily away is retried with backoff (logged as such), and the role goes on starting, and
 * becomes ready, once it answers. No port opens meanwhile, so nothing half-works.
 */
async function connectWithRetry(
  config: Config,
  metrics: RunningNode['metrics'],
  log: RunningNode['log'],
): Promise<Registry> {
  const where = redactedConfig(config).redisUrl;
  let delayMs = RETRY_FIRST_MS;
  for (let attempt = 1; ; attempt++) {
    const registry = createRegistry({ redisUrl: config.redisUrl });
    let lastError: string | undefined;
    registry.on('error', (err: Error) => {
      lastError = err.message;
      log.debug({ err: err.message }, 'registry error');
    });
    try {
      await registry.start();
    } catch (err) {
      await registry.close();
      metrics.registryUp.set(0);
      // A refused password will not fix itself: say so and stop.
      if (/NOAUTH|WRONGPASS|invalid password|invalid username/i.test(lastError ?? (err as Error).message))
        throw new RelaycastError(
          'RC_REGISTRY_UNAVAILABLE',
          `Redis at ${where} refused the credentials (${lastError ?? (err as Error).message}); fix the password in --redis-url`,
          { cause: err },
        );
      log.warn(
        { redis: where, attempt, retryInMs: delayMs, err: lastError ?? (err as Error).message },
        'Redis is not reachable; retrying until it is (the role starts when it answers)',
      );
      await new Promise((r) => setTimeout(r, delayMs));
      delayMs = Math.min(delayMs * 2, RETRY_MAX_MS);
      continue;
    }
    if (attempt > 1) log.info({ redis: where, attempt }, 'Redis is reachable; starting');
    registry.on('connection', (state: 'up' | 'down') => metrics.registryUp.set(state === 'up' ? 1 : 0));
    metrics.registryUp.set(1);
    return registry;
  }
}

export async function startOrigin(config: Config, version: string): Promise<Started> {
  const { log, metrics, hub, stats, admin } = nodeBase(config, version);
  const registry = await connectRegistry(config, admin, metrics, log);
  const statics = config.channels.length ? new StaticChannels(config.channels) : undefined;
  const auth = new PublishAuthorizer(config.publishAuth, new RegistryChannels(registry, statics));
  const origin = new Origin(
    hub,
    auth,
    { maxStreams: config.maxStreams, publishTakeover: config.publishTakeover },
    metrics,
    log,
  );
  const rtmp = new RtmpListeners(
    config,
    {
      publish: (req, onEnd) => origin.publish(req, onEnd),
      onProtocolError: (code) => metrics.rtmpErrors.inc({ code }),
    },
    metrics,
    log,
  );
  const hls = hlsFor(config, hub, metrics, log, registry);
  // LL-HLS packaged here too; edges relay it (edge/llhls-proxy.ts).
  const llhls = config.hlsPartTargetMs > 0 ? llHlsFor(config, hub, metrics, log, registry) : undefined;
  const internal = new InternalHttpServer(
    hub,
    new LocalHubSource(hub),
    hls,
    {
      host: config.host,
      port: config.internalPort,
      clusterToken: config.clusterToken,
      ...(llhls ? { llhls } : {}),
    },
    metrics,
    log,
  );
  const ports: Record<string, number> = {};
  await rtmp.listen(ports);
  if (config.internalPort) ports.internal = await internal.listen();
  if (config.adminPort) ports.admin = await admin.listen();
  const cluster = startOriginCluster(
    config,
    registry,
    origin,
    stats,
    ports,
    `http://${config.advertiseHost}:${ports.internal ?? config.internalPort}`,
    version,
    metrics,
    log,
  );
  let accepting = true;
  admin.readiness.push({ name: 'accepting', check: () => accepting });
  // DrainNode: refuse new publishers (readiness goes false so the load balancer moves them away);
  // live ones continue until they reconnect elsewhere.
  cluster.onDrainRequest = () => {
    accepting = false;
    origin.draining = true;
    cluster.markDraining();
  };
  cluster.onUndrainRequest = () => {
    accepting = true;
    origin.draining = false;
    cluster.markDraining(false);
  };
  admin.route('GET', '/api/v1/pulls', async () => ({ body: { pullsServed: internal.pullsServed } }));
  // Restreaming: this origin pushes the forwards of the channels whose active publisher it holds.
  const forwards = new ForwardManager(
    hub,
    registry,
    { nodeId: config.nodeId, owns: (app, hubName) => cluster.owns(app, hubName) },
    metrics,
    log,
  );
  forwards.start();
  admin.route('GET', '/api/v1/forwards', async () => ({ body: { forwards: forwards.list() } }));
  // Channel sources (MPEG-TS over UDP/RTP) the control plane leader assigned to this origin.
  const sources = new SourceManager(hub, log, {
    registry: metrics.registry,
    defaults: { silenceTimeoutMs: config.sourceSilenceTimeoutMs },
    ownListeners: () =>
      [config.advertiseHost, '127.0.0.1'].map((h) => `rtmp://${h}:${ports.rtmp ?? config.rtmpPort}`),
  });
  const channelSources = new ChannelSourceSync(registry, sources, log, {
    defaultInterface: config.sourceInterface,
    nodeId: config.nodeId,
  });
  channelSources.start();
  registry.on('event', (e: RegistryEvent) => {
    if (e.type === 'source-assigned') void channelSources.sync();
  });
  admin.route('GET', '/api/v1/sources', async () => ({ body: { sources: sources.list() } }));
  if (config.sourceNetworks) {
    const networks = config.sourceNetworks;
    cluster.nodeExtras = () => ({ sourceNetworks: networks });
  }
  log.info({ ports, config: redactedConfig(config) }, 'ready');
  return {
    log,
    metrics,
    ports,
    async stopAccepting() {
      accepting = false;
      rtmp.stopAccepting();
      await cluster.drain();
    },
    viewerCount: () => hub.viewerCount(),
    ...(rtmp.hasTls ? { reloadCertificates: () => rtmp.reloadCertificates() } : {}),
    async close() {
      channelSources.close();
      sources.close();
      forwards.close('shutdown');
      cluster.close();
      stats.close();
      hub.close();
      hls.close(); // after the hub: its streams' close starts the forget timers this clears
      llhls?.close();
      rtmp.closeAll();
      await Promise.all([internal.close(), admin.close()]);
      await registry.close();
    },
  };
}

export async function startEdge(config: Config, version: string): Promise<Started> {
  const { log, metrics, hub, stats, admin } = nodeBase(config, version);
  const registry = await connectRegistry(config, admin, metrics, log);
  const registryResolver = new RegistryResolver(registry);
  const cpApi = config.controlPlane
    ? new ControlPlaneApi(config.controlPlane, { token: config.clusterToken ?? config.adminToken })
    : undefined;
  // Only edges that use a control plane report whether they reach it (alerts key on it).
  if (cpApi) metrics.controlPlaneUp.set(1);
  else metrics.registry.removeSingleMetric('relaycast_control_plane_up');
  const resolver: RouteResolver = cpApi
    ? new ControlPlaneResolver(cpApi, registryResolver, { resolveTimeoutMs: 1000 }, metrics, log)
    : registryResolver;
  const puller = new EdgePuller(hub, resolver, edgePullOptions(config, config.clusterToken), metrics, log);
  const playSecrets = [config.playSecret, config.playSecretPrevious].filter((s): s is string => !!s);
  const limits = {
    playAuth: config.playAuth,
    playSecrets,
    playBindIp: config.playBindIp,
    maxViewersPerNode: config.maxViewersPerNode,
    maxViewersPerStream: config.maxViewersPerStream,
    viewerCount: () => hub.viewerCount(),
  };
  const play = new RtmpPlayHandler(puller, limits, metrics, log);
  const rtmp = new RtmpListeners(
    config,
    { play: (req) => play.play(req), onProtocolError: (code) => metrics.rtmpErrors.inc({ code }) },
    metrics,
    log,
  );
  const hlsProxy = new HlsProxy(
    resolver,
    {
      clusterToken: config.clusterToken,
      playlistTtlMs: Math.min(500, Math.max(100, config.hlsTargetDurationMs / 4)),
      segmentCacheBytes: config.hlsCacheBytes,
      keys: registry,
    },
    metrics,
  );
  const llHlsProxy = new LlHlsProxy(
    resolver,
    {
      clusterToken: config.clusterToken,
      playlistTtlMs: 100,
      cacheBytes: config.hlsCacheBytes,
    },
    metrics,
  );
  const listStreams = async () =>
    (await registry.listStreams())
      .filter((s) => s.role !== 'backup')
      .map((s) => ({ app: s.app, name: s.name }));
  // --workers: HTTP viewers move to worker threads that pull through this thread (one origin
  // pull per stream per node).
  const pool =
    config.workers > 1
      ? new WorkerPool(config, version, hub, puller, hlsProxy, listStreams, metrics, log, llHlsProxy)
      : undefined;
  const webrtc = whepFor(config, metrics, log);
  const frontend = (over: Partial<ViewerHttpOptions>) =>
    new ViewerHttpServer(
      puller,
      hlsProxy,
      {
        host: config.host,
        port: config.httpPort,
        ...limits,
        maxConnectionsPerIp: config.maxConnectionsPerIp,
        ...viewerHttpLimits(config),
        listStreams,
        ...webrtc,
        llhls: llHlsProxy,
        hlsVariant: config.hlsVariant,
        ...over,
      },
      metrics,
      log,
    );
  if (pool && webrtc.whep) pool.serveWhep((trusted) => frontend(trusted));
  const viewers: ViewerFrontend = pool ?? frontend({});
  const viewerCount = () => (pool ? pool.viewerCount() + nonRelayViewers(hub) : hub.viewerCount());
  const ports: Record<string, number> = {};
  await rtmp.listen(ports);
  if (webrtc.whep) ports.webrtc = await webrtc.whep.listen();
  if (config.httpPort) ports.http = await viewers.listen();
  if (pool) admin.metricsText = () => pool.metricsText(metrics);
  if (config.adminPort) ports.admin = await admin.listen();
  const host = config.advertiseHost;
  let accepting = true;
  admin.readiness.push({ name: 'accepting', check: () => accepting });
  registry.on('event', (e: RegistryEvent) => {
    if ((e.type !== 'drain-request' && e.type !== 'undrain-request') || e.nodeId !== config.nodeId) return;
    accepting = e.type === 'undrain-request';
    log.info(
      accepting
        ? 'undrain requested by the control plane: taking new viewers again'
        : 'drain requested by the control plane: refusing new viewers',
    );
    play.draining = !accepting;
    if (accepting) viewers.resumeAccepting();
    else viewers.stopAccepting();
    void heartbeat.beat();
  });
  const startedAt = Date.now();
  const heartbeat = startNodeHeartbeat(registry, config.leaseTtlMs, metrics, () => {
    let egress = 0;
    for (const s of hub.list()) egress += stats.describe(s).egressKbps;
    return {
      id: config.nodeId,
      role: 'edge',
      advertiseHost: host,
      httpUrl: `http://${host}:${ports.http ?? config.httpPort}`,
      rtmpUrl: `rtmp://${host}:${ports.rtmp ?? config.rtmpPort}`,
      adminUrl: `http://${host}:${ports.admin ?? config.adminPort}`,
      load: {
        streams: puller.activePulls,
        viewers: viewerCount(),
        egressMbps: egress / 1000,
        ingressMbps: 0,
      },
      draining: !accepting,
      startedAt,
      version,
    };
  });
  log.info({ ports, config: redactedConfig(config) }, 'ready');
  return {
    log,
    metrics,
    ports,
    stopAccepting() {
      accepting = false;
      play.draining = true;
      viewers.stopAccepting();
      rtmp.stopAccepting();
    },
    viewerCount,
    ...(rtmp.hasTls ? { reloadCertificates: () => rtmp.reloadCertificates() } : {}),
    async close() {
      heartbeat.stop();
      cpApi?.close();
      stats.close();
      puller.close();
      hub.close();
      llHlsProxy.close(); // held LL-HLS reloads answer before the connections go
      rtmp.closeAll();
      viewers.closeAllConnections();
      await Promise.all([viewers.close(), admin.close()]);
      try {
        await registry.removeNode(config.nodeId);
      } catch {
        /* expires */
      }
      await registry.close();
    },
  };
}
