/**
 * Live media playlists (RFC 8216 section 4.3). Room is left for LL-HLS later: parts would be
 * rendered per segment (EXT-X-PART before each EXTINF) plus EXT-X-PART-INF / EXT-X-SERVER-CONTROL
 * in the header; nothing of that is emitted now.
 */
import { keyTag, type SegmentEncryption } from './encryption.ts';
import type { HlsSegment } from './segmenter.ts';

export interface PlaylistOptions {
  /** URI line for a segment, e.g. s => `test-${s.sequence}.ts?token=…`. Must not contain a newline. */
  segmentUri: (seg: HlsSegment) => string;
  /** EXT-X-VERSION, default 3 (decimal EXTINF needs ≥ 3). */
  version?: number;
  ended: boolean;
  /**
   * EXT-X-TARGETDURATION, whole seconds. The caller passes the same value for the whole life of
   * the playlist (HlsSegmenter.targetDurationSeconds): players time reloads and the live edge from
   * it, so it must not change; the segmenter's hard cut keeps every EXTINF within it (4.3.3.1).
   */
  targetDurationSeconds: number;
  /**
   * METHOD=AES-128 encryption of a segment (undefined: in the clear). An EXT-X-KEY goes before
   * every segment whose key URI or IV differs from the previous segment's (with an explicit IV
   * per segment, before each one); METHOD=NONE where encryption stops (RFC 8216 4.3.2.4).
   */
  encryptionFor?: (seg: HlsSegment) => SegmentEncryption | undefined;
}

/** ISO 8601 with milliseconds, UTC: 2026-01-01T00:00:07.000Z */
function dateTime(epochMs: number): string {
  return new Date(Math.round(epochMs)).toISOString();
}

export function renderMediaPlaylist(
  segments: readonly HlsSegment[],
  mediaSequence: number,
  discontinuitySequence: number,
  options: PlaylistOptions,
): string {
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${options.version ?? 3}`,
    `#EXT-X-TARGETDURATION:${Math.max(1, Math.round(options.targetDurationSeconds))}`,
    `#EXT-X-MEDIA-SEQUENCE:${mediaSequence}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuitySequence}`,
  ];
  // Only claimed while every segment in the window starts at a random access point (a runaway-GOP
  // cut starts mid-GOP).
  if (segments.every((s) => s.hasKeyframeStart)) lines.push('#EXT-X-INDEPENDENT-SEGMENTS');
  let previousKey: string | undefined;
  segments.forEach((s, i) => {
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (i === 0 || s.discontinuity) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${dateTime(s.programDateTime)}`);
    const enc = options.encryptionFor?.(s);
    // The first segment in the clear needs no METHOD=NONE: nothing was encrypted before it.
    const key = enc || previousKey ? keyTag(enc) : undefined;
    if (key !== undefined && key !== previousKey) lines.push(key);
    previousKey = enc ? key : undefined;
    lines.push(`#EXTINF:${(s.durationMs / 1000).toFixed(3)},`, options.segmentUri(s));
  });
  if (options.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
