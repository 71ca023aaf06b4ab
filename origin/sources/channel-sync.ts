/**
 * Keeps the SourceManager in step with the channel records: a channel created with a source
 * (`relaycast channel create NAME --source URL`, REST, gRPC) starts receiving within one interval,
 * a deleted channel stops. Sources from the YAML file are not touched (they are not channel records).
 */
import { errorCode } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import type { Registry } from '../../core/registry/registry.ts';
import type { SourceManager } from './manager.ts';

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

  constructor(
    registry: Registry,
    manager: SourceManager,
    log: Logger,
    options: { intervalMs?: number; defaultInterface?: string } = {},
  ) {
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
    const wanted = new Map<string, (typeof channels)[number]>();
    for (const c of channels) if (c.source) wanted.set(`${c.app}/${c.name}`, c);
    for (const [key, url] of [...this.managed]) {
      const c = wanted.get(key);
      if (c && c.source!.url === url) continue;
      this.managed.delete(key);
      const [app, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
      this.manager.remove(app, name);
    }
    for (const [key, c] of wanted) {
      if (this.managed.has(key)) continue;
      this.managed.set(key, c.source!.url);
      try {
        await this.manager.set({
          app: c.app,
          name: c.name,
          url: c.source!.url,
          interfaceAddress: c.source!.interfaceAddress ?? this.defaultInterface,
          ...(c.hlsEncryption ? { hlsEncryption: c.hlsEncryption } : {}),
        });
      } catch (err) {
        this.log.error({ err, code: errorCode(err), stream: key }, 'channel source could not start');
      }
    }
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
