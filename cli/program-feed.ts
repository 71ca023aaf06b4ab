/**
 * Backup switching in the all-in-one. A channel with a backup (a backup key or a backup source) is
 * watched through a "program" stream that follows the channel's active publisher, exactly as a
 * cluster edge watches it: the primary and the backup stay separate streams in the ingest hub
 * (`<name>` and `<name>~backup`, registered like on an origin), and viewers of `<app>/<name>` get a
 * pull of the active one into a second, program hub, served over a loopback internal server with a
 * per-process token. A switch (the control plane's switcher, or `stream switch`) re-points the pull:
 * viewers stay connected and get the new publisher's headers and keyframe; HLS goes through the
 * same proxy as on edges and marks the discontinuity. Channels without a backup are served from
 * the ingest hub directly, as before: no extra hop for them.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../core/config.ts';
import type { MetricsBinding } from '../core/hub-metrics.ts';
import { InternalHttpServer } from '../core/internal-http.ts';
import type { Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import type { Registry } from '../core/registry/registry.ts';
import type { HlsPlaylistResult, HlsSource, LlHlsSource, StreamSource } from '../core/sources.ts';
import { LocalHubSource } from '../core/sources.ts';
import { HlsProxy } from '../edge/hls-proxy.ts';
import { LlHlsProxy } from '../edge/llhls-proxy.ts';
import { EdgePuller, edgePullOptions } from '../edge/pull.ts';
import { RegistryResolver } from '../edge/route.ts';
import type { StreamHub } from '../media/hub/hub.ts';
import type { HubStream } from '../media/hub/stream.ts';
import { nonRelayViewers } from './workers.ts';

/** Which channels have a backup (API channels and the YAML file's), refreshed every `intervalMs`. */
export class BackupChannels {
  private names = new Set<string>();
  private readonly registry: Registry;
  private readonly statics: ReadonlySet<string>;
  private timer: NodeJS.Timeout | undefined;

  constructor(registry: Registry, statics: { app: string; name: string; backupKey?: string }[]) {
    this.registry = registry;
    this.statics = new Set(statics.filter((c) => c.backupKey).map((c) => `${c.app}/${c.name}`));
  }

  async start(intervalMs = 1000): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  async refresh(): Promise<void> {
    try {
      const list = await this.registry.listChannels();
      this.names = new Set(
        list.filter((c) => c.backupKeyHash || c.backupSource).map((c) => `${c.app}/${c.name}`),
      );
    } catch {
      /* the in-memory registry does not fail; keep the last answer */
    }
  }

  has(app: string, name: string): boolean {
    const key = `${app}/${name}`;
    return this.names.has(key) || this.statics.has(key);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

export interface ProgramFeed {
  /** Where viewers get streams: the program hub for channels with a backup, else the ingest hub. */
  source: StreamSource;
  hls: HlsSource;
  /** LL-HLS the same way (undefined when LL-HLS is off). */
  llhls: LlHlsSource | undefined;
  /** The loopback base URL the program pulls come from (the all-in-one's internalUrl). */
  internalUrl: string;
  /** Viewers of program streams (people only). */
  viewerCount(): number;
  close(): Promise<void>;
}

export async function startProgramFeed(
  config: Config,
  deps: {
    hub: StreamHub;
    /** An empty hub with the ingest hub's options (cli/run.ts hubFor). */
    programHub: StreamHub;
    hls: HlsSource;
    llhls: LlHlsSource | undefined;
    registry: Registry;
    metrics: Metrics;
    hubMetrics: MetricsBinding;
    log: Logger;
  },
): Promise<ProgramFeed> {
  const { hub, hls, llhls, registry, metrics, log } = deps;
  const token = randomBytes(24).toString('base64url');
  const direct = new LocalHubSource(hub);
  const internal = new InternalHttpServer(
    hub,
    direct,
    hls,
    { host: '127.0.0.1', port: 0, clusterToken: token, ...(llhls ? { llhls } : {}) },
    metrics,
    log,
  );
  const internalUrl = `http://127.0.0.1:${await internal.listen()}`;
  const programHub = deps.programHub;
  deps.hubMetrics.add(programHub, { viewersOnly: true });
  const resolver = new RegistryResolver(registry);
  const puller = new EdgePuller(programHub, resolver, edgePullOptions(config, token), metrics, log);
  const proxy = new HlsProxy(
    resolver,
    {
      clusterToken: token,
      playlistTtlMs: Math.min(500, Math.max(100, config.hlsTargetDurationMs / 4)),
      segmentCacheBytes: Math.min(config.hlsCacheBytes, 64 * 1024 * 1024),
      keys: registry,
    },
    metrics,
  );
  // The program's LL-HLS: the packaged primary or backup, followed across switches like an edge.
  const llProxy = llhls
    ? new LlHlsProxy(
        resolver,
        {
          clusterToken: token,
          playlistTtlMs: 100,
          cacheBytes: Math.min(config.hlsCacheBytes, 64 * 1024 * 1024),
        },
        metrics,
      )
    : undefined;
  const backups = new BackupChannels(registry, config.channels);
  await backups.start();
  const switching = (app: string, name: string) => backups.has(app, name);
  return {
    internalUrl,
    source: {
      acquire: (app: string, name: string): Promise<HubStream> =>
        switching(app, name) ? puller.acquire(app, name) : direct.acquire(app, name),
    },
    hls: {
      playlist: (app: string, name: string, query: string): Promise<HlsPlaylistResult | undefined> =>
        switching(app, name) ? proxy.playlist(app, name, query) : hls.playlist(app, name, query),
      segment: (app: string, name: string, file: string) =>
        switching(app, name.replace(/~backup$/, ''))
          ? proxy.segment(app, name, file)
          : hls.segment(app, name, file),
      key: (app: string, name: string, id: string) =>
        switching(app, name)
          ? proxy.key(app, name, id)
          : (hls.key?.(app, name, id) ?? Promise.resolve(undefined)),
    },
    llhls: llhls &&
      llProxy && {
        playlist: (app, name, req) =>
          switching(app, name) ? llProxy.playlist(app, name, req) : llhls.playlist(app, name, req),
        media: (app, name, file) =>
          switching(app, name.replace(/~backup$/, ''))
            ? llProxy.media(app, name, file)
            : llhls.media(app, name, file),
      },
    viewerCount: () => nonRelayViewers(programHub),
    async close() {
      llProxy?.close();
      backups.close();
      puller.close();
      programHub.close();
      await internal.close();
    },
  };
}
