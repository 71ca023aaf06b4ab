/**
 * Where viewer-facing servers get streams from. The all-in-one reads the local hub; a cluster edge
 * pulls from origins. Both sit behind these interfaces so edge/ serves viewers the same way.
 */

import type { BlockingRequest } from '../media/hls/ll-blocking.ts';
import type { StreamHub } from '../media/hub/hub.ts';
import type { HubStream } from '../media/hub/stream.ts';
import { RelaycastError } from './errors.ts';

export interface StreamSource {
  /**
   * The stream to attach a new viewer to. Edges may start (or join) a pull from an origin here.
   * Throws RelaycastError('RC_PLAY_NOT_FOUND') when the stream is not live anywhere.
   */
  acquire(app: string, name: string): Promise<HubStream>;
}

export interface HlsPlaylistResult {
  body: string;
  /** Whether the stream has ended (playlist carries EXT-X-ENDLIST). */
  ended: boolean;
}

export interface HlsSource {
  /** The media playlist; `segmentQuery` is appended to every segment URI (signed-URL tokens). */
  playlist(app: string, name: string, segmentQuery: string): Promise<HlsPlaylistResult | undefined>;
  /** A segment by file name (e.g. `test-42.ts`). */
  segment(app: string, name: string, file: string): Promise<Buffer | undefined>;
  /** Encrypted HLS: key `id` of the stream (only sources that package or relay keys have this). */
  key?(app: string, name: string, id: string): Promise<Buffer | undefined>;
}

/** A Low-Latency HLS playlist request (origin/llhls.ts). */
export interface LlHlsPlaylistRequest {
  /** `_HLS_msn` / `_HLS_part`: hold the answer until that segment or part exists. */
  blocking: BlockingRequest | undefined;
  /** Put before every URI: '' for `<app>/<name>/ll.m3u8`, `<name>/` for `<app>/<name>.m3u8`. */
  uriPrefix: string;
  /** Appended to every URI (init, segments, parts, preload hint): the signed-URL token. */
  segmentQuery: string;
  /** `_HLS_skip=YES`: a Playlist Delta Update (media/hls/ll-playlist.ts deltaUpdate) if the playlist offers them. */
  skip?: boolean;
}

export interface LlHlsMedia {
  data: Buffer;
  contentType: string;
}

export interface LlHlsSource {
  /** Throws RC_BAD_REQUEST (400) or RC_HLS_BLOCKING_TIMEOUT (503) for blocking reloads. */
  playlist(app: string, name: string, req: LlHlsPlaylistRequest): Promise<HlsPlaylistResult | undefined>;
  /** `init-<id>.mp4`, `<msn>.m4s` or `<msn>.<part>.m4s`; a hinted part is waited for. */
  media(app: string, name: string, file: string): Promise<LlHlsMedia | undefined>;
}

/** The all-in-one's source: streams published into this process's hub. */
export class LocalHubSource implements StreamSource {
  private readonly hub: StreamHub;
  constructor(hub: StreamHub) {
    this.hub = hub;
  }
  async acquire(app: string, name: string): Promise<HubStream> {
    const stream = this.hub.getLive(app, name);
    if (!stream) throw new RelaycastError('RC_PLAY_NOT_FOUND', `stream ${app}/${name} is not live`);
    return stream;
  }
}
