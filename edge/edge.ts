/**
 * The edge role: viewers in (HTTP-FLV, HLS, RTMP play), streams from a StreamSource (the local hub
 * in the all-in-one, origin pulls in a cluster).
 */

import { errorCode, RelaycastError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import type { PlayRequest } from '../core/rtmp/session.ts';
import { normaliseIp, verifyPlay } from '../core/signing.ts';
import type { StreamSource } from '../core/sources.ts';
import type { HubStream } from '../media/hub/stream.ts';
import { DRAINING_MESSAGE } from './viewer-http.ts';

export interface EdgePlayOptions {
  playAuth: 'open' | 'signed';
  playSecrets: string[];
  /** --play-bind-ip: only tokens bound to the viewer's address. */
  playBindIp?: boolean;
  maxViewersPerNode: number;
  maxViewersPerStream: number;
  viewerCount: () => number;
}

/** RTMP play policy: the same checks the HTTP side makes. */
export class RtmpPlayHandler {
  private readonly source: StreamSource;
  private readonly options: EdgePlayOptions;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  draining = false;

  constructor(source: StreamSource, options: EdgePlayOptions, metrics: Metrics, log: Logger) {
    this.source = source;
    this.options = options;
    this.metrics = metrics;
    this.log = log.child({ component: 'rtmp-play' });
  }

  async play(req: PlayRequest): Promise<HubStream> {
    if (this.options.playAuth === 'signed') {
      try {
        verifyPlay(
          this.options.playSecrets,
          req.app,
          req.name,
          req.query,
          normaliseIp(req.remote.replace(/:\d+$/, '')),
          Date.now(),
          this.options.playBindIp,
        );
      } catch (err) {
        this.metrics.authFailures.inc({ surface: 'play', reason: errorCode(err) });
        throw err;
      }
    }
    const reject = (reason: string, message: string): never => {
      this.metrics.viewerRejects.inc({ protocol: 'rtmp', reason });
      throw new RelaycastError(reason === 'draining' ? 'RC_NODE_DRAINING' : 'RC_VIEWER_LIMIT', message);
    };
    if (this.draining) reject('draining', DRAINING_MESSAGE);
    if (this.options.maxViewersPerNode > 0 && this.options.viewerCount() >= this.options.maxViewersPerNode)
      reject('limit', 'this node has reached its viewer limit');
    let stream: HubStream;
    try {
      stream = await this.source.acquire(req.app, req.name);
    } catch (err) {
      if (errorCode(err) === 'RC_PLAY_NOT_FOUND')
        this.metrics.viewerRejects.inc({ protocol: 'rtmp', reason: 'not_found' });
      this.log.debug({ app: req.app, name: req.name, code: errorCode(err) }, 'rtmp play refused');
      throw err;
    }
    if (this.options.maxViewersPerStream > 0 && stream.viewers.size >= this.options.maxViewersPerStream)
      reject('limit', 'this stream has reached its viewer limit');
    return stream;
  }
}
