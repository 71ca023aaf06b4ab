/**
 * One viewer worker thread of `--workers N` (see workers.ts): HTTP-FLV, HLS and the player page on
 * the shared --http-port (SO_REUSEPORT), fed from the main thread's loopback relay. No registry, no
 * admin port: the main thread merges this worker's metrics, which leave out the process metrics.
 */
import { HlsProxy } from '../edge/hls-proxy.ts';
import { LlHlsProxy } from '../edge/llhls-proxy.ts';
import { EdgePuller } from '../edge/pull.ts';
import { RelayResolver } from '../edge/relay-route.ts';
import { ViewerHttpServer } from '../edge/viewer-http.ts';
import { nodeBase, viewerHttpLimits } from './node-base.ts';
import type { WorkerData } from './worker-env.ts';
import { workerChannel } from './workers.ts';

export async function startViewerWorker(data: WorkerData): Promise<void> {
  const { config, version, index, relay, token } = data;
  // its admin server never listens: the main thread scrapes; process metrics are the main thread's
  const base = nodeBase(config, version, { processMetrics: false, workerIndex: index });
  const { metrics, hub, stats, admin } = base;
  const log = base.log.child({ worker: index });
  const resolver = new RelayResolver(relay);
  const puller = new EdgePuller(
    hub,
    resolver,
    {
      clusterToken: token,
      // the main thread keeps its own pull for the configured idle time; a worker lets go sooner
      pullIdleTimeoutMs: 2000,
      waitForStreamMs: 0,
      // the main thread does the real failover; a relay that ended means the stream ended
      failoverDeadlineMs: 3000,
      bodyTimeoutMs: config.republishWaitMs + 10_000,
    },
    metrics,
    log,
  );
  const hls = new HlsProxy(
    resolver,
    {
      clusterToken: token,
      playlistTtlMs: Math.min(500, Math.max(100, config.hlsTargetDurationMs / 4)),
      segmentCacheBytes: Math.max(16 * 1024 * 1024, Math.floor(config.hlsCacheBytes / config.workers)),
      // encrypted HLS: keys come from the main thread over the relay (no registry here)
      keysFromOrigin: true,
    },
    metrics,
  );
  // LL-HLS from the main thread over the relay (its packager or, on an edge, its proxy), which
  // holds blocking reloads for all workers at once.
  const llhls =
    config.role === 'edge' || config.hlsPartTargetMs > 0
      ? new LlHlsProxy(
          resolver,
          {
            clusterToken: token,
            playlistTtlMs: 100,
            cacheBytes: Math.max(16 * 1024 * 1024, Math.floor(config.hlsCacheBytes / config.workers)),
          },
          metrics,
        )
      : undefined;
  const playSecrets = [config.playSecret, config.playSecretPrevious].filter((s): s is string => !!s);
  const viewers = new ViewerHttpServer(
    puller,
    hls,
    {
      host: config.host,
      port: config.httpPort,
      playAuth: config.playAuth,
      playSecrets,
      playBindIp: config.playBindIp,
      // node-wide limits are shared out evenly between the workers
      maxViewersPerNode: config.maxViewersPerNode ? Math.ceil(config.maxViewersPerNode / config.workers) : 0,
      maxViewersPerStream: config.maxViewersPerStream
        ? Math.ceil(config.maxViewersPerStream / config.workers)
        : 0,
      maxConnectionsPerIp: config.maxConnectionsPerIp,
      ...viewerHttpLimits(config),
      listStreams: async () => {
        const res = await fetch(`${relay}/_index`, {
          headers: token ? { authorization: `Bearer ${token}` } : {},
          signal: AbortSignal.timeout(2000),
        });
        return ((await res.json()) as { streams: { app: string; name: string }[] }).streams;
      },
      viewerCount: () => hub.viewerCount(),
      ...(data.whep ? { whepProxy: { url: data.whep, token } } : {}),
      reusePort: true,
      ...(llhls ? { llhls, hlsVariant: config.hlsVariant } : {}),
    },
    metrics,
    log,
  );
  const channel = workerChannel({
    metricsJson: () => {
      for (const refresh of admin.beforeScrape) refresh();
      return metrics.registry.getMetricsAsJSON();
    },
    viewerCount: () => hub.viewerCount(),
    stopAccepting: () => viewers.stopAccepting(),
    resumeAccepting: () => viewers.resumeAccepting(),
    close: async () => {
      stats.close();
      puller.close();
      hub.close();
      llhls?.close();
      viewers.closeAllConnections();
      await viewers.close();
    },
  });
  try {
    const port = await viewers.listen();
    log.debug({ port, worker: index }, 'viewer worker listening');
    channel.listening(port);
  } catch (err) {
    // The main thread says it in one line (describeStartupError) and exits; nothing here.
    channel.fatal(err);
    setTimeout(() => process.exit(1), 200).unref();
  }
}
