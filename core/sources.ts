/**
 * Where viewer-facing servers get streams from. The all-in-one reads the local hub; a cluster edge
 * pulls from origins. Both sit behind these interfaces so edge/ serves viewers the same way.
 */
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
