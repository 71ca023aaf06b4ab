/**
 * What every relaycast process builds first (logger, metrics, hub, admin server) and the viewer
 * server's request limits: shared by the roles (cli/run.ts, cli/roles.ts) and the --workers viewer
 * processes, which import only this, not the roles' module graph (gRPC, WebRTC, the control plane).
 */

import { AdminHttpServer } from '../core/admin-http.ts';
import type { Config } from '../core/config.ts';
import { bindHubMetrics } from '../core/hub-metrics.ts';
import { createLogger } from '../core/log.ts';
import { createMetrics } from '../core/metrics.ts';
import { StreamStatsSampler } from '../core/stream-info.ts';
import { StreamHub } from '../media/hub/hub.ts';
import { registerStreamRoutes } from './routes.ts';

export function nodeBase(
  config: Config,
  version: string,
  options: { processMetrics?: boolean; workerIndex?: number } = {},
) {
  const log = createLogger(config.logLevel, { role: config.role, node: config.nodeId });
  const metrics = createMetrics({
    role: config.role,
    nodeId: config.nodeId,
    version,
    maxStreams: config.metricsMaxStreams,
    processMetrics: options.processMetrics ?? true,
    ...(options.workerIndex !== undefined ? { workerIndex: options.workerIndex } : {}),
  });
  const hub = hubFor(config);
  const hubMetrics = bindHubMetrics(hub, metrics);
  const stats = new StreamStatsSampler(hub);
  const admin = new AdminHttpServer(
    { host: config.host, port: config.adminPort, adminToken: config.adminToken },
    metrics,
    log,
  );
  admin.beforeScrape.push(hubMetrics.refresh);
  registerStreamRoutes(admin, hub, stats);
  return { log, metrics, hub, hubMetrics, stats, admin };
}

/** The viewer HTTP server's request limits. */
export function viewerHttpLimits(config: Config) {
  return {
    maxHeaderBytes: config.httpMaxHeaderBytes,
    headersTimeoutMs: config.httpHeadersTimeoutMs,
    requestTimeoutMs: config.httpRequestTimeoutMs,
  };
}

export function hubFor(config: Config): StreamHub {
  return new StreamHub({
    gopCacheMaxBytes: config.gopCacheMaxBytes,
    viewerMaxBufferBytes: config.viewerMaxBufferBytes,
    viewerHardMaxBufferBytes: config.viewerMaxBufferBytes * 4,
    viewerDropAfterMs: config.viewerDropAfterMs,
    republishWaitMs: config.republishWaitMs,
    mergeWriteMs: config.mergeWriteMs,
  });
}
