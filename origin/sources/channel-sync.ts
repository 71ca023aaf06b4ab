/**
 * Keeps the SourceManager in step with the channel records: a channel created with a source
 * (`relaycast channel create NAME --source URL`, REST, gRPC) starts receiving within one interval,
 * a deleted channel stops. Sources from the YAML file are not touched (they are not channel records).
 *
 * On a cluster origin (`nodeId` given) only the sources the control plane leader assigned to this
 * origin run here (control-plane/source-assigner.ts), and each pass reports their state to the
 * registry, which the leader reads to move a silent source and `channel list` shows.
 */
import { errorCode } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import type { Registry } from '../../core/registry/registry.ts';
import type { ChannelSource, HlsEncryption } from '../../core/registry/types.ts';
import type { SourceManager } from './manager.ts';

interface Wanted {
  app: string;
  /** The hub name: the channel's, or `<name>~backup` for its backup source. */
  name: string;
  source: ChannelSource;
  hlsEncryption: HlsEncryption | undefined;
}

export class ChannelSourceSync {
  private readonly registry: Registry;
  private readonly manager: SourceManager;
  private readonly log: Logger;
  private readonly intervalMs: number;
  private readonly defaultInterface: string | undefined;
  /** app/name → the URL we started (or failed to start: not retried until the URL changes). */
  private readonly managed = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private isClosed = false;
  /** Cluster origins: this node's id (only assigned sources run here). */
  private readonly nodeId: string | undefined;
  /** app/name → Date.now() since the source has been silent. */
  private readonly silentSince = new Map<string, number>();

  constructor(
    registry: Registry,
    manager: SourceManager,
    log: Logger,
    options: { intervalMs?: number; defaultInterface?: string; nodeId?: string } = {},
  ) {
    this.nodeId = options.nodeId;
    this.registry = registry;
    this.manager = manager;
    this.log = log.child({ component: 'channel-sources' });
    this.intervalMs = options.intervalMs ?? 1000;
    this.defaultInterface = options.defaultInterface;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  start(): void {
    if (this.timer || this.isClosed) return;
    this.timer = setInterval(() => void this.sync(), this.intervalMs);
    this.timer.unref();
    void this.sync();
  }

  /** One pass; concurrent calls share it. */
  sync(): Promise<void> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    let channels: Awaited<ReturnType<Registry['listChannels']>>;
    try {
      channels = await this.registry.listChannels();
    } catch (err) {
      this.log.warn({ err, code: errorCode(err) }, 'cannot list channels; sources stay as they are');
      return;
    }
    if (this.isClosed) return;
    // A channel's source runs as <app>/<name>, its backup source as <app>/<name>~backup.
    const wanted = new Map<string, Wanted>();
    for (const c of channels) {
      const feeds: [string, ChannelSource | undefined][] = [
        [c.name, c.source],
        [`${c.name}~backup`, c.backupSource],
      ];
      for (const [name, source] of feeds) {
        if (!source) continue;
        const key = `${c.app}/${name}`;
        if (this.nodeId) {
          const a = await this.registry.getSourceAssignment(c.app, name).catch(() => 'unknown' as const);
          // Registry trouble: keep what runs (its lease decides), start nothing new.
          if (a === 'unknown' ? !this.managed.has(key) : a?.nodeId !== this.nodeId) continue;
        }
        wanted.set(key, { app: c.app, name, source, hlsEncryption: c.hlsEncryption });
      }
    }
    for (const [key, url] of [...this.managed]) {
      const w = wanted.get(key);
      if (w && w.source.url === url) continue;
      this.managed.delete(key);
      const [app, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
      this.manager.remove(app, name);
    }
    for (const [key, w] of wanted) {
      if (this.managed.has(key)) continue;
      this.managed.set(key, w.source.url);
      try {
        await this.manager.set({
          app: w.app,
          name: w.name,
          url: w.source.url,
          interfaceAddress: w.source.interfaceAddress ?? this.defaultInterface,
          ...(w.hlsEncryption ? { hlsEncryption: w.hlsEncryption } : {}),
        });
      } catch (err) {
        this.log.error({ err, code: errorCode(err), stream: key }, 'channel source could not start');
      }
    }
    if (this.nodeId) await this.report();
  }

  /** The state of this origin's sources, for the leader and `channel list` (expires if we die). */
  private async report(): Promise<void> {
    const now = Date.now();
    for (const key of [...this.silentSince.keys()]) if (!this.managed.has(key)) this.silentSince.delete(key);
    for (const key of this.managed.keys()) {
      const slash = key.indexOf('/');
      const [app, name] = [key.slice(0, slash), key.slice(slash + 1)];
      const s = this.manager.get(app, name)?.stats();
      if (!s) continue;
      if (s.state === 'silent') {
        if (!this.silentSince.has(key)) this.silentSince.set(key, now);
      } else this.silentSince.delete(key);
      await this.registry
        .putSourceStatus(
          app,
          name,
          {
            nodeId: this.nodeId!,
            state: s.state,
            bitrateKbps: s.bitrateKbps,
            ccErrors: s.ccErrors,
            packets: s.packets,
            lastPacketAt: s.lastPacketAt,
            silentSince: this.silentSince.get(key) ?? 0,
          },
          3 * this.intervalMs + 2000,
        )
        .catch(() => undefined);
    }
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
