/**
 * The sources this node receives, one per channel: set(), remove(), list() for `channel list` and
 * REST, and the per-source Prometheus series (read at scrape time from each Source's counters).
 */
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../core/log.ts';
import { METRIC_PREFIX } from '../../core/metrics.ts';
import { parseAnySourceUrl, pullsOwnStream, sourceLoopError } from '../../core/source-url.ts';
import type { StreamHub } from '../../media/hub/hub.ts';
import { PullSource } from './pull.ts';
import { Source, type SourceOptions, type SourceState, type SourceStats } from './source.ts';

export interface SourceConfig {
  /** Channel (stream) name, published as `<app>/<name>`. */
  name: string;
  url: string;
  interfaceAddress?: string;
  app?: string;
  /** The channel's own HLS encryption (absent: the node's --hls-encryption). */
  hlsEncryption?: 'none' | 'aes-128';
}

/** A channel source received here (UDP/RTP) or pulled from another server. */
export type AnySource = Source | PullSource;

const STATES: SourceState[] = ['starting', 'waiting', 'receiving', 'silent', 'closed'];

export class SourceManager {
  private readonly hub: StreamHub;
  private readonly log: Logger;
  private readonly defaults: Partial<SourceOptions>;
  private readonly ownListeners: () => readonly string[];
  private readonly sources = new Map<string, AnySource>();
  private isClosed = false;

  constructor(
    hub: StreamHub,
    log: Logger,
    options?: {
      registry?: Registry;
      defaults?: Partial<SourceOptions>;
      /** This node's HTTP and RTMP listener URLs: a pull source naming its own stream there is refused. */
      ownListeners?: () => readonly string[];
    },
  ) {
    this.hub = hub;
    this.log = log;
    this.defaults = options?.defaults ?? {};
    this.ownListeners = options?.ownListeners ?? (() => []);
    if (options?.registry) this.registerMetrics(options.registry);
  }

  /**
   * Starts (or replaces) the source of a channel. The URL is validated first (RC_SOURCE_URL_INVALID);
   * a bind failure rejects with RC_SOURCE_BIND_FAILED and leaves no source behind.
   */
  async set(config: SourceConfig): Promise<AnySource> {
    const spec = parseAnySourceUrl(config.url, { interfaceAddress: config.interfaceAddress });
    const app = config.app ?? 'live';
    const key = `${app}/${config.name}`;
    if ('url' in spec && pullsOwnStream(config.url, app, config.name, this.ownListeners()))
      throw sourceLoopError(config.url, app, config.name);
    const existing = this.sources.get(key);
    if (
      existing &&
      existing.options.url === config.url &&
      existing.options.hlsEncryption === config.hlsEncryption &&
      !existing.closed
    )
      return existing;
    existing?.close('replaced');
    const options = {
      ...this.defaults,
      app,
      name: config.name,
      url: config.url,
      ...(config.hlsEncryption ? { hlsEncryption: config.hlsEncryption } : {}),
    };
    const source: AnySource =
      'url' in spec
        ? new PullSource(this.hub, spec, options, this.log)
        : new Source(this.hub, spec, options, this.log);
    this.sources.set(key, source);
    source.once('close', () => {
      if (this.sources.get(key) === source) this.sources.delete(key);
    });
    await source.start();
    return source;
  }

  get(app: string, name: string): AnySource | undefined {
    return this.sources.get(`${app}/${name}`);
  }

  remove(app: string, name: string): boolean {
    const s = this.sources.get(`${app}/${name}`);
    if (!s) return false;
    s.close('removed');
    return true;
  }

  list(): SourceStats[] {
    return [...this.sources.values()].map((s) => s.stats());
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const s of [...this.sources.values()]) s.close('shutdown');
  }

  private registerMetrics(registry: Registry): void {
    const self = this;
    const counter = (name: string, help: string, pick: (s: SourceStats) => number) =>
      new Gauge({
        name: `${METRIC_PREFIX}source_${name}`,
        help,
        labelNames: ['source'],
        registers: [registry],
        collect() {
          this.reset();
          for (const s of self.list()) this.set({ source: s.name }, pick(s));
        },
      });
    counter('packets', 'MPEG-TS packets received per channel source (monotonic)', (s) => s.packets);
    counter('bytes', 'Bytes received per channel source (monotonic)', (s) => s.bytes);
    counter('cc_errors', 'MPEG-TS continuity counter gaps per channel source (monotonic)', (s) => s.ccErrors);
    counter('pes_errors', 'Damaged or refused PES per channel source (monotonic)', (s) => s.pesErrors);
    counter('rtp_lost', 'RTP packets never received per channel source (monotonic)', (s) => s.rtpLost);
    counter('reconnects', 'Times a channel source came back after silence (monotonic)', (s) => s.reconnects);
    counter('bitrate_kbps', 'Input bitrate of a channel source over the last second', (s) => s.bitrateKbps);
    new Gauge({
      name: `${METRIC_PREFIX}source_state`,
      help: 'Channel source state: 1 for the current one',
      labelNames: ['source', 'state'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of self.list())
          for (const st of STATES) this.set({ source: s.name, state: st }, s.state === st ? 1 : 0);
      },
    });
  }
}
