/**
 * Live media playlists (RFC 8216 section 4.3). Room is left for LL-HLS later: parts would be
 * rendered per segment (EXT-X-PART before each EXTINF) plus EXT-X-PART-INF / EXT-X-SERVER-CONTROL
 * in the header; nothing of that is emitted now.
 */
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
  segments.forEach((s, i) => {
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (i === 0 || s.discontinuity) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${dateTime(s.programDateTime)}`);
    lines.push(`#EXTINF:${(s.durationMs / 1000).toFixed(3)},`, options.segmentUri(s));
  });
  if (options.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
