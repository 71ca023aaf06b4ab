/** Live media playlists (RFC 8216 4.3). Room is left for LL-HLS parts (EXT-X-PART) later. */
import type { HlsSegment } from './segmenter.ts';

export interface PlaylistOptions {
  segmentUri: (seg: HlsSegment) => string;
  version?: number;
  ended: boolean;
  targetDurationMs: number;
}

export function renderMediaPlaylist(
  segments: readonly HlsSegment[],
  mediaSequence: number,
  discontinuitySequence: number,
  options: PlaylistOptions,
): string {
  // 4.3.3.1: every EXTINF, rounded to the nearest integer, must be <= TARGETDURATION
  let target = Math.ceil(options.targetDurationMs / 1000);
  for (const s of segments) target = Math.max(target, Math.round(s.durationMs / 1000));
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${options.version ?? 3}`,
    `#EXT-X-TARGETDURATION:${target}`,
    `#EXT-X-MEDIA-SEQUENCE:${mediaSequence}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuitySequence}`,
    '#EXT-X-INDEPENDENT-SEGMENTS',
  ];
  segments.forEach((s, i) => {
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (i === 0 || s.discontinuity)
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.programDateTime).toISOString()}`);
    lines.push(`#EXTINF:${(s.durationMs / 1000).toFixed(3)},`, options.segmentUri(s));
  });
  if (options.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
