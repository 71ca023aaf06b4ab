/**
 * Who may publish. `open`: the stream key is the stream name (a channel's key still maps to its
 * channel). `keys`: the key must belong to a
 * channel; the channel's public name is what viewers see (the key never appears in play URLs).
 * Keys are compared as SHA-256 hashes only; failed attempts are rate-limited per source IP.
 */
import { RelaycastError } from '../core/errors.ts';
import { validateStreamName } from '../core/names.ts';
import { hashStreamKey } from '../core/registry/keys.ts';
import type { Registry } from '../core/registry/registry.ts';
import type { HlsEncryption } from '../core/registry/types.ts';

export interface ChannelLookup {
  /** Channel owning this key hash, and whether the key is its primary or backup key. */
  findByKeyHash(keyHash: string): Promise<PublishTarget | undefined>;
}

export interface PublishTarget {
  app: string;
  name: string;
  role: 'primary' | 'backup';
  /** Publishing under a bare name in open mode (no key): such a publish may take over a live
   * stream only from the live publisher's own address, unless --publish-takeover any. */
  keyless?: boolean;
  /** The channel's own HLS encryption (absent: the packaging node's --hls-encryption). */
  hlsEncryption?: HlsEncryption;
}

/** Static channels from the config file (the control plane makes them dynamic). */
export class StaticChannels implements ChannelLookup {
  private readonly byHash = new Map<string, PublishTarget>();
  constructor(
    channels: { app: string; name: string; key: string; backupKey?: string; hlsEncryption?: HlsEncryption }[],
  ) {
    for (const c of channels) {
      const enc = c.hlsEncryption ? { hlsEncryption: c.hlsEncryption } : {};
      this.byHash.set(hashStreamKey(c.key), { app: c.app, name: c.name, role: 'primary', ...enc });
      if (c.backupKey)
        this.byHash.set(hashStreamKey(c.backupKey), { app: c.app, name: c.name, role: 'backup', ...enc });
    }
  }
  async findByKeyHash(keyHash: string) {
    return this.byHash.get(keyHash);
  }
}

/** Channel keys: the registry's channels (managed by the control plane), then static ones. */
export class RegistryChannels implements ChannelLookup {
  private readonly registry: Registry;
  private readonly fallback: StaticChannels | undefined;
  constructor(registry: Registry, fallback: StaticChannels | undefined) {
    this.registry = registry;
    this.fallback = fallback;
  }
  async findByKeyHash(keyHash: string) {
    const found = await this.registry.findChannelByKeyHash(keyHash);
    if (found)
      return {
        app: found.channel.app,
        name: found.channel.name,
        role: found.role,
        ...(found.channel.hlsEncryption ? { hlsEncryption: found.channel.hlsEncryption } : {}),
      };
    return this.fallback?.findByKeyHash(keyHash);
  }
}

/** Sliding-window counter of failures per IP. */
export class FailureLimiter {
  private readonly windowMs: number;
  private readonly max: number;
  private readonly failures = new Map<string, number[]>();
  constructor(max: number, windowMs: number) {
    this.max = max;
    this.windowMs = windowMs;
  }
  blocked(ip: string, now = Date.now()): boolean {
    const list = this.failures.get(ip);
    if (!list) return false;
    while (list.length && list[0]! < now - this.windowMs) list.shift();
    if (list.length === 0) this.failures.delete(ip);
    return list.length >= this.max;
  }
  record(ip: string, now = Date.now()): void {
    let list = this.failures.get(ip);
    if (!list) {
      list = [];
      this.failures.set(ip, list);
    }
    list.push(now);
    if (list.length > this.max * 2) list.splice(0, list.length - this.max * 2);
    // Bounded memory under a scan from many addresses.
    if (this.failures.size > 100_000) {
      const first = this.failures.keys().next().value;
      if (first !== undefined) this.failures.delete(first);
    }
  }
}

export { validateStreamName } from '../core/names.ts';

export class PublishAuthorizer {
  readonly mode: 'open' | 'keys';
  private readonly channels: ChannelLookup | undefined;
  private readonly limiter = new FailureLimiter(10, 60_000);
  constructor(mode: 'open' | 'keys', channels: ChannelLookup | undefined) {
    this.mode = mode;
    this.channels = channels;
  }

  /** Maps what the encoder sent (app, stream name/key, ?key=) to the stream to publish. */
  async resolve(app: string, streamName: string, query: URLSearchParams, ip: string): Promise<PublishTarget> {
    if (this.mode === 'open') {
      // A channel's key still maps to its channel (so backups work on an open cluster too);
      // anything else, or a lookup that fails, publishes under its own name.
      const found = await this.lookup(streamName, query).catch(() => undefined);
      if (found && found.app === app) return found;
      validateStreamName(app, streamName);
      return { app, name: streamName, role: 'primary', keyless: true };
    }
    if (this.limiter.blocked(ip))
      throw new RelaycastError(
        'RC_PUBLISH_RATE_LIMITED',
        'too many failed publish attempts from this address; wait a minute',
      );
    const found = await this.lookup(streamName, query);
    if (!found || found.app !== app || (query.has('key') && streamName !== found.name)) {
      this.limiter.record(ip);
      throw new RelaycastError(
        'RC_PUBLISH_KEY_INVALID',
        `unknown stream key for app '${app}': use the key that 'relaycast channel create' (or 'channel reset-key') printed, or a key from channels: in the config file`,
      );
    }
    return found;
  }

  /** The channel of the key the encoder sent: `?key=`, else the stream name itself. */
  private async lookup(streamName: string, query: URLSearchParams): Promise<PublishTarget | undefined> {
    const key = query.get('key') ?? streamName;
    return this.channels?.findByKeyHash(hashStreamKey(key));
  }
}
