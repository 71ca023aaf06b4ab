/**
 * The origin role: takes RTMP publishes into the local stream hub after authorising them.
 * Registration in the registry, the internal pull endpoint and HLS packaging hang off the hub's
 * events (see cluster.ts and hls.ts), so the publish path stays the same in the all-in-one.
 */
import { randomUUID } from 'node:crypto';
import { errorCode, RelaycastError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import type { PublishRequest } from '../core/rtmp/session.ts';
import type { StreamHub } from '../media/hub/hub.ts';
import type { Publication, PublicationEndReason } from '../media/hub/stream.ts';
import type { PublishAuthorizer, PublishTarget } from './publish-auth.ts';

export interface OriginOptions {
  maxStreams: number;
  /** Open publishing: a keyless takeover only from the live publisher's address (default) or any. */
  publishTakeover?: 'same-ip' | 'any';
}

/** Hook for the cluster layer: may refuse or fence a publish (e.g. registry unavailable). */
export interface PublishHooks {
  /** `sameIpOnly`: the publish may take over a live stream only from `ip` (RC_PUBLISH_STREAM_BUSY). */
  beforePublish?(
    target: PublishTarget,
    sessionId: string,
    publisher: { ip: string; sameIpOnly: boolean },
  ): Promise<void>;
}

export class Origin {
  readonly hub: StreamHub;
  private readonly auth: PublishAuthorizer;
  private readonly options: OriginOptions;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  hooks: PublishHooks = {};
  draining = false;

  constructor(
    hub: StreamHub,
    auth: PublishAuthorizer,
    options: OriginOptions,
    metrics: Metrics,
    log: Logger,
  ) {
    this.hub = hub;
    this.auth = auth;
    this.options = options;
    this.metrics = metrics;
    this.log = log.child({ component: 'origin' });
  }

  /** The hub stream name of a publish target: backups live beside their primary. */
  static hubName(target: PublishTarget): string {
    return target.role === 'backup' ? `${target.name}~backup` : target.name;
  }

  /** Admits a publish; a refusal is logged here, once, naming the stream (never a key). */
  async publish(req: PublishRequest, onEnd: (reason: PublicationEndReason) => void): Promise<Publication> {
    let resolved: PublishTarget | undefined;
    try {
      return await this.admit(req, onEnd, (t) => {
        resolved = t;
      });
    } catch (err) {
      // In keys mode the stream name the encoder sent is the secret key: name the stream only
      // once the key has mapped to it.
      const stream = resolved
        ? `${resolved.app}/${resolved.name}`
        : this.auth.mode === 'open'
          ? `${req.app}/${req.streamName}`
          : undefined;
      this.log.warn(
        { stream, app: req.app, remote: req.remote, code: errorCode(err), reason: (err as Error).message },
        'publish refused',
      );
      throw err;
    }
  }

  private async admit(
    req: PublishRequest,
    onEnd: (reason: PublicationEndReason) => void,
    onResolved: (target: PublishTarget) => void,
  ): Promise<Publication> {
    if (this.draining)
      throw new RelaycastError(
        'RC_PUBLISH_DRAINING',
        'this origin is draining (shutting down, or drained by an operator); reconnect to another',
      );
    const ip = req.remote.replace(/:\d+$/, '');
    let target: PublishTarget;
    try {
      target = await this.auth.resolve(req.app, req.streamName, req.query, ip);
    } catch (err) {
      this.metrics.authFailures.inc({ surface: 'publish', reason: errorCode(err) });
      throw err;
    }
    onResolved(target);
    const hubName = Origin.hubName(target);
    const existing = this.hub.getLive(target.app, hubName);
    if (!existing && this.options.maxStreams > 0) {
      const live = this.hub.list().filter((s) => s.live).length;
      if (live >= this.options.maxStreams)
        throw new RelaycastError(
          'RC_PUBLISH_STREAM_LIMIT',
          `this origin already carries ${live} streams (--max-streams)`,
        );
    }
    // Open publishing: a reconnecting encoder comes from the address it used before; anyone else
    // publishing the same bare name would hijack a live broadcast.
    const sameIpOnly = !!target.keyless && (this.options.publishTakeover ?? 'same-ip') === 'same-ip';
    const liveIp = existing?.publisher?.info.remote?.replace(/:\d+$/, '');
    if (sameIpOnly && liveIp !== undefined && liveIp !== ip) throw streamBusy(target);
    const sessionId = randomUUID();
    await this.hooks.beforePublish?.(target, sessionId, { ip, sameIpOnly });
    const pub = this.hub.publish(
      target.app,
      hubName,
      {
        sessionId,
        kind: 'rtmp',
        remote: req.remote,
        ...(target.hlsEncryption ? { hlsEncryption: target.hlsEncryption } : {}),
      },
      onEnd,
    );
    if (existing)
      this.log.info({ stream: pub.stream.key, remote: req.remote }, 'republish took over the stream');
    return pub;
  }
}

/** A keyless publish of a name that another address broadcasts live. */
export function streamBusy(target: PublishTarget): RelaycastError {
  return new RelaycastError(
    'RC_PUBLISH_STREAM_BUSY',
    `${target.app}/${target.name} is live from another address; open publishing lets only the live encoder's own address take it over (use a channel key, or --publish-takeover any on trusted networks)`,
  );
}
