/**
 * Composes roles into a running process. The all-in-one is the origin and the edge sharing one hub
 * (the edge's StreamSource is the local hub instead of an origin pull), so it is not a second code
 * path.
 */

import { join, resolve } from 'node:path';
import { format } from 'node:util';
import { setLogger as setGrpcLogger } from '@grpc/grpc-js';
import { startControlPlane } from '../control-plane/control-plane.ts';
import type { Config } from '../core/config.ts';
import { redactedConfig } from '../core/config.ts';
import { errorCode, RelaycastError } from '../core/errors.ts';
import { createLogger, type Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import { JsonFileChannelStore } from '../core/registry/channel-store.ts';
import { MemoryRegistry } from '../core/registry/memory.ts';
import type { Registry } from '../core/registry/registry.ts';
import type { StreamStatsSampler } from '../core/stream-info.ts';
import { RtmpPlayHandler } from '../edge/edge.ts';
import { type ViewerHttpOptions, ViewerHttpServer } from '../edge/viewer-http.ts';
import { WhepServer } from '../edge/webrtc/whep.ts';
import type { StreamHub } from '../media/hub/hub.ts';
import { OriginCluster } from '../origin/cluster.ts';
import { ForwardManager } from '../origin/forward-manager.ts';
import { HlsPackager } from '../origin/hls.ts';
import { LlHlsPackager } from '../origin/llhls.ts';
import { Origin } from '../origin/origin.ts';
import { PublishAuthorizer, RegistryChannels, StaticChannels } from '../origin/publish-auth.ts';
import { ChannelSourceSync } from '../origin/sources/channel-sync.ts';
import { SourceManager } from '../origin/sources/manager.ts';
import { hubFor, nodeBase, viewerHttpLimits } from './node-base.ts';
import { startProgramFeed } from './program-feed.ts';
import { RtmpListeners } from './rtmp-listeners.ts';
import { nonRelayViewers, type ViewerFrontend, WorkerPool } from './workers.ts';

export interface RunningNode {
  log: Logger;
  metrics: Metrics;
  /** Stop taking new viewers/publishers (readiness goes false); origins also tell edges. */
  stopAccepting(): void | Promise<void>;
  /** Viewers still connected (drain waits for 0). */
  viewerCount(): number;
  /** SIGHUP: re-read the RTMPS certificate; absent when this node has no RTMPS listener. */
  reloadCertificates?(): Promise<void>;
  /** The --workers viewer threads, when there are any (for programs embedding startAll, and tests). */
  workers?: WorkerPool;
  close(): Promise<void>;
}

/** What every role process has: logger, metrics, the hub with its metrics and stats, admin HTTP. */

/**
 * WHEP on the viewer port: a WhepServer when --webrtc-udp-port is set. It runs in this (main)
 * thread, which has the streams and the node's one UDP port; with --workers the viewer threads
 * relay WHEP requests to it (WorkerPool.serveWhep).
 */
export function whepFor(
  config: Config,
  metrics: Metrics,
  log: Logger,
): { whep?: WhepServer; whepUnavailable?: string } {
  if (!config.webrtcUdpPort || !config.httpPort) return {};
  return {
    whep: new WhepServer(
      {
        udpPort: config.webrtcUdpPort,
        host: config.host,
        publicIp: config.webrtcPublicIp ?? config.advertiseHost,
        maxSessions: config.webrtcMaxSessions,
      },
      metrics,
      log,
    ),
  };
}

export async function startAll(
  config: Config,
  version: string,
): Promise<RunningNode & { ports: Record<string, number> }> {
  const { log, metrics, hub, hubMetrics, stats, admin } = nodeBase(config, version);
  metrics.registryUp.set(1); // the all-in-one's registry is in memory: always reachable
  // The control plane runs in process on an in-memory registry: channels made with
  // `relaycast channel create` (or the REST API) can publish at once; static ones still work.
  const registry = new MemoryRegistry({ store: new JsonFileChannelStore(resolve(config.dataDir)) });
  await registry.start();
  const statics = config.channels.length ? new StaticChannels(config.channels) : undefined;
  const origin = new Origin(
    hub,
    new PublishAuthorizer(config.publishAuth, new RegistryChannels(registry, statics)),
    { maxStreams: config.maxStreams, publishTakeover: config.publishTakeover },
    metrics,
    log,
  );
  const packager = hlsFor(config, hub, metrics, log, registry);
  // LL-HLS (fMP4 parts) from the ingest hub, beside MPEG-TS; HTTP viewers in this process only.
  const packagerLl = config.hlsPartTargetMs > 0 ? llHlsFor(config, hub, metrics, log, registry) : undefined;
  // Viewers of a channel with a backup watch a program stream that follows the switch (the
  // control plane's switcher runs here too); everything else plays straight from the hub.
  const feed = await startProgramFeed(config, {
    hub,
    programHub: hubFor(config),
    hls: packager,
    llhls: packagerLl,
    registry,
    metrics,
    hubMetrics,
    log,
  });
  const { source, hls, llhls } = feed;
  const viewerCount = () => nonRelayViewers(hub) + feed.viewerCount();
  const playSecrets = [config.playSecret, config.playSecretPrevious].filter((s): s is string => !!s);
  const play = new RtmpPlayHandler(
    source,
    {
      playAuth: config.playAuth,
      playSecrets,
      playBindIp: config.playBindIp,
      maxViewersPerNode: config.maxViewersPerNode,
      maxViewersPerStream: config.maxViewersPerStream,
      viewerCount,
    },
    metrics,
    log,
  );
  const rtmp = new RtmpListeners(
    config,
    {
      publish: (req, onEnd) => origin.publish(req, onEnd),
      play: (req) => play.play(req),
      onProtocolError: (code) => metrics.rtmpErrors.inc({ code }),
    },
    metrics,
    log,
  );
  const listStreams = async () =>
    hub
      .list()
      .filter((s) => s.live && !s.name.endsWith('~backup'))
      .map((s) => ({ app: s.app, name: s.name }));
  // --workers: HTTP viewers move to worker threads fed over a loopback relay.
  const pool =
    config.workers > 1
      ? new WorkerPool(config, version, hub, source, hls, listStreams, metrics, log, llhls)
      : undefined;
  const webrtc = whepFor(config, metrics, log);
  const frontend = (over: Partial<ViewerHttpOptions>) =>
    new ViewerHttpServer(
      source,
      hls,
      {
        host: config.host,
        port: config.httpPort,
        playAuth: config.playAuth,
        playSecrets,
        playBindIp: config.playBindIp,
        maxViewersPerNode: config.maxViewersPerNode,
        maxViewersPerStream: config.maxViewersPerStream,
        maxConnectionsPerIp: config.maxConnectionsPerIp,
        ...viewerHttpLimits(config),
        listStreams,
        viewerCount,
        ...webrtc,
        ...(llhls ? { llhls, hlsVariant: config.hlsVariant } : {}),
        ...over,
      },
      metrics,
      log,
    );
  if (pool && webrtc.whep) pool.serveWhep((trusted) => frontend(trusted));
  const viewers: ViewerFrontend = pool ?? frontend({});
  let accepting = true;
  admin.readiness.push({ name: 'accepting', check: () => accepting });

  const ports: Record<string, number> = {};
  // Started below; close() stops what exists, so a start that fails part-way (a busy port) leaves
  // nothing running in a program that embeds startAll.
  let cluster: ReturnType<typeof startOriginCluster> | undefined;
  let sources: SourceManager | undefined;
  let cp: Awaited<ReturnType<typeof startControlPlane>> | undefined;
  let channelSources: ChannelSourceSync | undefined;
  let forwards: ForwardManager | undefined;
  const close = async () => {
    channelSources?.close();
    forwards?.close('shutdown');
    sources?.close();
    cluster?.close();
    stats.close();
    hub.close();
    await feed.close();
    packager.close(); // after the hub: its streams' close starts the forget timers this clears
    packagerLl?.close();
    rtmp.closeAll();
    viewers.closeAllConnections();
    await Promise.all([viewers.close(), admin.close(), cp?.close()]);
    await registry.close();
  };
  try {
    await rtmp.listen(ports);
    if (webrtc.whep) ports.webrtc = await webrtc.whep.listen();
    if (config.httpPort) ports.http = await viewers.listen();
    if (pool) admin.metricsText = () => pool.metricsText(metrics);
    if (config.adminPort) ports.admin = await admin.listen();
    // Streams are registered like on an origin, so the control plane lists, resolves and kicks them;
    // the viewer port serves the same /<app>/<name>.flv an edge would pull.
    cluster = startOriginCluster(
      config,
      registry,
      origin,
      stats,
      ports,
      feed.internalUrl,
      version,
      metrics,
      log,
    );
    // DrainNode: refuse new publishers and viewers; readiness goes false; current ones continue.
    const registered = cluster;
    registered.onDrainRequest = () => {
      accepting = false;
      origin.draining = true;
      play.draining = true;
      viewers.stopAccepting();
      registered.markDraining();
    };
    registered.onUndrainRequest = () => {
      accepting = true;
      origin.draining = false;
      play.draining = false;
      viewers.resumeAccepting();
      registered.markDraining(false);
    };
    // Channel sources: from `sources:` in the YAML file and from channel records (`channel create
    // NAME --source URL`); received here and live at once under <app>/<name>.
    const pulls = new SourceManager(hub, log, {
      registry: metrics.registry,
      defaults: { silenceTimeoutMs: config.sourceSilenceTimeoutMs },
      // this node under its advertised name and on loopback
      ownListeners: () =>
        [config.advertiseHost, '127.0.0.1'].flatMap((h) => [
          `http://${h}:${ports.http ?? config.httpPort}`,
          `rtmp://${h}:${ports.rtmp ?? config.rtmpPort}`,
        ]),
    });
    sources = pulls;
    const controlPlane = await startControlPlane(config, {
      registry,
      metrics,
      log,
      admin,
      version,
      sourceStatus: (app, name) => {
        const st = pulls.get(app, name)?.stats();
        return st && { ...st, nodeId: config.nodeId };
      },
    });
    cp = controlPlane;
    if (controlPlane.grpcPort) ports.grpc = controlPlane.grpcPort;
    // `node list` shows the all-in-one as what it is: viewer and gRPC URLs, and always the leader.
    const host = config.advertiseHost;
    registered.nodeExtras = () => ({
      ...(ports.http ? { httpUrl: `http://${host}:${ports.http}` } : {}),
      ...(ports.grpc ? { grpcUrl: `${host}:${ports.grpc}` } : {}),
      leader: controlPlane.elector.isLeader(),
    });
    controlPlane.elector.on('change', () => registered.beat());
    registered.beat();
    admin.route('GET', '/api/v1/sources', async () => ({ body: { sources: pulls.list() } }));
    for (const s of config.sources) {
      try {
        await pulls.set({ ...s, interfaceAddress: s.interfaceAddress ?? config.sourceInterface });
      } catch (err) {
        // one unreachable group or busy port must not keep the other channels down
        log.error(
          { err, code: errorCode(err), stream: `${s.app}/${s.name}` },
          'channel source could not start',
        );
      }
    }
    channelSources = new ChannelSourceSync(registry, pulls, log, {
      defaultInterface: config.sourceInterface,
    });
    channelSources.start();
    // Restreaming: one process, so it holds every publisher.
    forwards = new ForwardManager(hub, registry, { nodeId: config.nodeId, owns: () => true }, metrics, log);
    const restreams = forwards;
    restreams.start();
    admin.route('GET', '/api/v1/forwards', async () => ({ body: { forwards: restreams.list() } }));
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  log.info({ ports, config: redactedConfig(config) }, 'ready');

  return {
    log,
    metrics,
    ports,
    async stopAccepting() {
      await cp?.stopAccepting();
      accepting = false;
      origin.draining = true;
      play.draining = true;
      viewers.stopAccepting();
      rtmp.stopAccepting();
    },
    viewerCount: () => (pool ? pool.viewerCount() : 0) + viewerCount(),
    ...(pool ? { workers: pool } : {}),
    ...(rtmp.hasTls ? { reloadCertificates: () => rtmp.reloadCertificates() } : {}),
    close,
  };
}

/** Registers the origin's streams under leases; `internalUrl` serves /<app>/<name>.flv to edges. */
export function startOriginCluster(
  config: Config,
  registry: Registry,
  origin: Origin,
  stats: StreamStatsSampler,
  ports: Record<string, number>,
  internalUrl: string,
  version: string,
  metrics: Metrics,
  log: Logger,
): OriginCluster {
  const host = config.advertiseHost;
  const cluster = new OriginCluster(
    registry,
    origin,
    stats,
    {
      nodeId: config.nodeId,
      internalUrl,
      advertiseHost: host,
      rtmpUrl: `rtmp://${host}:${ports.rtmp ?? config.rtmpPort}`,
      adminUrl: `http://${host}:${ports.admin ?? config.adminPort}`,
      leaseTtlMs: config.leaseTtlMs,
      version,
      role: config.role === 'all' ? 'all' : 'origin',
    },
    metrics,
    log,
  );
  cluster.start();
  return cluster;
}

/** AES-128 for both HLS packagers; keys are kept wherever a registry is (a channel may ask for it on its own). */
function hlsEncryptionFor(config: Config, registry: Registry | undefined) {
  if (!registry) return {};
  return {
    encryption: {
      rotationSegments: config.hlsKeyRotation,
      keys: registry,
      byDefault: config.hlsEncryption === 'aes-128',
    },
  };
}

export function llHlsFor(
  config: Config,
  hub: StreamHub,
  metrics: Metrics,
  log: Logger,
  registry?: Registry,
): LlHlsPackager {
  return new LlHlsPackager(
    hub,
    {
      partTargetMs: config.hlsPartTargetMs,
      // Segments as long as the MPEG-TS variant's hard maximum: the same EXT-X-TARGETDURATION.
      segmentTargetMs: Math.max(config.hlsMaxSegmentDurationMs, config.hlsPartTargetMs),
      windowSegments: config.hlsWindow,
      keepEndedMs: 60_000,
      firstPartWaitMs: Math.max(6000, config.hlsMaxSegmentDurationMs * 3),
      ...hlsEncryptionFor(config, registry),
    },
    metrics,
    log,
  );
}

export function hlsFor(
  config: Config,
  hub: StreamHub,
  metrics: Metrics,
  log: Logger,
  registry?: Registry,
): HlsPackager {
  return new HlsPackager(
    hub,
    {
      targetDurationMs: config.hlsTargetDurationMs,
      maxSegmentDurationMs: config.hlsMaxSegmentDurationMs,
      windowSegments: config.hlsWindow,
      maxWindowBytes: 64 * 1024 * 1024,
      dir: config.hlsDir,
      keepEndedMs: 60_000,
      firstSegmentWaitMs: Math.max(6000, config.hlsTargetDurationMs * 6),
      ...hlsEncryptionFor(config, registry),
    },
    metrics,
    log,
  );
}

/**
 * The start-up banner: URLs a user can paste, following the auth modes. With channel keys the
 * publish line names a channel key (a bare `live/test` would be refused), with signed play it shows
 * how to sign instead of unsigned URLs that answer 403.
 */
export function banner(config: Config, ports: Record<string, number>): string {
  const host = config.advertiseHost;
  const app = config.app;
  const keys = config.publishAuth !== 'open';
  const signed = config.playAuth === 'signed';
  const lines = ['', `relaycast ${config.role} is up (node ${config.nodeId})`];
  const cp = ports.grpc ? ` --control-plane ${host}:${ports.grpc}` : '';
  // An edge's RTMP port plays; an origin's takes publishes; the all-in-one's does both.
  if (ports.rtmp && config.role !== 'edge') {
    lines.push(
      `  OBS server:  rtmp://${host}:${ports.rtmp}/${app}   stream key: ${keys ? 'a channel key' : 'any name, e.g. test'}`,
    );
    if (keys)
      lines.push(
        `  channel:     npx relaycast channel create test${cp}   (prints the key; publishes are refused without one)`,
        `  ffmpeg:      ffmpeg -re -i input.mp4 -c:v libx264 -c:a aac -f flv rtmp://${host}:${ports.rtmp}/${app}/<channel key>`,
      );
    else
      lines.push(
        `  ffmpeg:      ffmpeg -re -i input.mp4 -c:v libx264 -c:a aac -f flv rtmp://${host}:${ports.rtmp}/${app}/test`,
        '  note:        open publishing (anyone may publish a new name) is for trusted networks; --publish-auth keys for others',
      );
  }
  if (ports.rtmps && config.role !== 'edge')
    lines.push(
      `  RTMPS:       rtmps://${host}:${ports.rtmps}/${app}   (OBS server over TLS; OBS must trust the certificate, see README "RTMPS")`,
    );
  if (ports.http) {
    if (signed) {
      lines.push(
        `  play:        signed URLs only (--play-auth signed); make them with`,
        `               npx relaycast sign ${app}/test --secret <play secret> --base http://${host}:${ports.http}${ports.rtmp && ports.rtmp !== 1935 ? ` --rtmp-base rtmp://${host}:${ports.rtmp}` : ''}`,
        `               (HTTP-FLV, HLS, RTMP and LL-HLS URLs; the player page is /play/${app}/test?<the same query>)`,
      );
    } else {
      lines.push(`  HTTP-FLV:    http://${host}:${ports.http}/${app}/test.flv`);
      const ll = config.hlsVariant === 'llhls' && (config.role === 'edge' || config.hlsPartTargetMs > 0);
      lines.push(
        `  HLS:         http://${host}:${ports.http}/${app}/test.m3u8${ll ? '   (Low-Latency HLS, fMP4 parts, ~1 s behind live)' : ''}`,
      );
      lines.push(
        `  HLS (TS):    http://${host}:${ports.http}/${app}/test.ts.m3u8   (classic MPEG-TS segments)`,
      );
      lines.push(
        `  player:      http://${host}:${ports.http}/play/${app}/test   (index: http://${host}:${ports.http}/)`,
      );
      if (ports.rtmp) lines.push(`  RTMP play:   rtmp://${host}:${ports.rtmp}/${app}/test`);
    }
  }
  if (ports.rtmps && config.role !== 'origin' && config.playAuth !== 'signed')
    lines.push(`  RTMPS play:  rtmps://${host}:${ports.rtmps}/${app}/test`);
  if (ports.admin)
    lines.push(`  admin:       http://${host}:${ports.admin}/metrics  /healthz  /readyz  /api/v1/streams`);
  if (config.role === 'all')
    lines.push(`  channels:    kept in ${join(resolve(config.dataDir), 'channels.json')} (--data-dir)`);
  if (ports.grpc)
    lines.push(`  gRPC:        ${host}:${ports.grpc}   e.g. npx relaycast channel create mychannel${cp}`);
  lines.push('  Ctrl-C stops.', '');
  return lines.join('\n');
}

const PORT_FLAGS = [
  ['rtmpPort', 'rtmp-port'],
  ['rtmpsPort', 'rtmps-port'],
  ['httpPort', 'http-port'],
  ['internalPort', 'internal-port'],
  ['adminPort', 'admin-port'],
  ['grpcPort', 'grpc-port'],
] as const;

/** One line for a fatal start-up error: the port or cause, and what to do next, with its code. */
export function describeStartupError(err: unknown, config: Config): string {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  if (e && (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL')) {
    const flag = PORT_FLAGS.find(([key]) => config[key] === e.port)?.[1];
    const which = `${e.address ?? config.host}:${e.port}${flag ? ` (--${flag})` : ''}`;
    const pick = flag ? `start with --${flag} set to a free port` : 'pick another port';
    if (e.code === 'EADDRINUSE')
      return `port ${which} is already in use by another process; stop that process or ${pick} (RC_PORT_IN_USE)`;
    if (e.code === 'EACCES')
      return `not allowed to listen on port ${which} (ports below 1024 need privileges); ${pick} (RC_PORT_IN_USE)`;
    return `cannot listen on ${which}: the address is not on this machine; check --host (RC_CONFIG_INVALID)`;
  }
  if (err instanceof RelaycastError) return `${err.message} (${err.code})`;
  return `could not start: ${(err as Error)?.message ?? String(err)} (RC_INTERNAL)`;
}

/** Runs a role until SIGINT/SIGTERM. Resolves with -1: the process exits when its handles close. */
export async function runRole(config: Config, version: string): Promise<number> {
  // grpc-js writes its own errors to stderr ("E No address added…"); they belong in the log.
  const grpcLog = createLogger(config.logLevel, {
    role: config.role,
    node: config.nodeId,
    component: 'grpc',
  });
  setGrpcLogger({
    error: (...args: unknown[]) => grpcLog.warn(format(...args)),
    info: (...args: unknown[]) => grpcLog.debug(format(...args)),
    debug: (...args: unknown[]) => grpcLog.debug(format(...args)),
  });
  let node: RunningNode & { ports: Record<string, number> };
  try {
    node =
      config.role === 'all'
        ? await startAll(config, version)
        : await (await import('./roles.ts')).startRole(config, version);
  } catch (err) {
    // A start-up failure must not leave a half-started process (e.g. still accepting RTMP while the
    // HTTP port was taken): one line naming the cause and what to do, then exit at once.
    process.stderr.write(`relaycast ${config.role}: ${describeStartupError(err, config)}\n`);
    process.exit(1);
  }
  // The local cluster launcher prints one banner for all its processes.
  if (process.env.RELAYCAST_BANNER !== '0') process.stderr.write(banner(config, node.ports));
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      node.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    node.log.info({ signal }, 'shutting down');
    await node.stopAccepting();
    if (signal === 'SIGTERM' && config.drainTimeoutMs > 0) {
      const deadline = Date.now() + config.drainTimeoutMs;
      while (node.viewerCount() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    }
    const hard = setTimeout(() => process.exit(0), 4000);
    hard.unref();
    await node.close();
    node.log.info('stopped');
    process.exit(0);
  };
  // SIGHUP re-reads the RTMPS certificate (certbot/cert-manager renewals); without RTMPS it keeps
  // its default meaning (the terminal went away: exit).
  const reload = node.reloadCertificates;
  if (reload) process.on('SIGHUP', () => void reload());
  process.on('SIGINT', (s) => void stop(s));
  process.on('SIGTERM', (s) => void stop(s));
  // Under `npm start` / `npm run cluster` a killed parent (even with SIGKILL) must not leave this
  // process orphaned holding the ports. A supervisor that runs node directly needs none of this.
  if (process.env.npm_lifecycle_event || process.env.RELAYCAST_EXIT_WITH_PARENT === '1')
    exitWithParent(() => {
      node.log.warn('parent process is gone: shutting down');
      void stop('SIGTERM');
    });
  return -1;
}

/** Calls `onOrphaned` once when this process's parent exits (Linux/macOS re-parent orphans). */
export function exitWithParent(onOrphaned: () => void, checkMs = 500): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onOrphaned();
  }, checkMs);
  timer.unref();
}
