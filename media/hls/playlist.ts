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
  /** The configured target; EXT-X-TARGETDURATION never goes below its ceiling in seconds. */
  targetDurationMs: number;
}

/**
 * EXT-X-TARGETDURATION (4.3.3.1): every EXTINF, rounded to the nearest integer, must be ≤ it. So
 * it is the largest rounded segment duration in the window, but never below ceil(target): honest
 * when a long GOP makes long segments, without jumping to the next second for 1 ms of jitter
 * (hls.js keeps liveSyncDurationCount × TARGETDURATION behind the live edge).
 */
export function targetDurationSeconds(segments: readonly HlsSegment[], targetDurationMs: number): number {
  let target = Math.max(1, Math.ceil(targetDurationMs / 1000));
  for (const s of segments) target = Math.max(target, Math.round(s.durationMs / 1000));
  return target;
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
    `#EXT-X-TARGETDURATION:${targetDurationSeconds(segments, options.targetDurationMs)}`,
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
