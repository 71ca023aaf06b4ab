/**
 * Low-Latency HLS media playlists (RFC 8216bis-16 4.4, Apple "Enabling Low-Latency HLS"):
 * fMP4 segments with EXT-X-MAP, the parts of the last few segments and of the one being built
 * (EXT-X-PART), a preload hint for the next part, and the server-control tags that let players
 * block on reloads.
 */
import { keyTag, type SegmentEncryption } from './encryption.ts';
import type { LlPart, LlSegment } from './ll-segmenter.ts';

export interface LlPlaylistView {
  segments: readonly LlSegment[];
  /** The segment being built (with at least one part), if any. */
  open: LlSegment | undefined;
  mediaSequence: number;
  discontinuitySequence: number;
  ended: boolean;
  partTargetMs: number;
  targetDurationSeconds: number;
  /** The part EXT-X-PRELOAD-HINT names (not rendered once ended). */
  nextPart: { sequence: number; index: number };
  /** CAN-SKIP-UNTIL (see skipBoundarySeconds); delta updates are not offered without it. */
  skipUntilSeconds?: number;
}

export interface LlPlaylistUris {
  init: (initId: number) => string;
  segment: (sequence: number) => string;
  part: (sequence: number, index: number) => string;
  /**
   * AES-128 (RFC 8216bis 4.4.4.4): the key and IV of a segment and of all its parts, undefined when
   * it is clear. Also asked for the segment the preload hint opens (its key is decided ahead).
   */
  encryption?: (sequence: number) => SegmentEncryption | undefined;
}

/** Part target as written in EXT-X-PART-INF (seconds, 3 decimals; parts are cut to fit it). */
export function partTargetSeconds(partTargetMs: number): string {
  return (partTargetMs / 1000).toFixed(3);
}

/**
 * PART-HOLD-BACK: 4.4.3.8 requires at least twice the part target; Apple's authoring rules ask
 * for three times, which is what players start at.
 */
export function partHoldBackSeconds(partTargetMs: number): string {
  return ((3 * partTargetMs) / 1000).toFixed(3);
}

function dateTime(epochMs: number): string {
  return new Date(Math.round(epochMs)).toISOString();
}

function quoted(uri: string): string {
  if (/["\r\n]/.test(uri)) throw new Error(`URI ${JSON.stringify(uri)} cannot be quoted`); // a bug, not input
  return `"${uri}"`;
}

export function renderLlPlaylist(view: LlPlaylistView, uris: LlPlaylistUris): string {
  const lines = [
    '#EXTM3U',
    // 4.4.1.2: EXT-X-MAP in a playlist without I-FRAMES-ONLY needs version 6
    '#EXT-X-VERSION:6',
    `#EXT-X-TARGETDURATION:${view.targetDurationSeconds}`,
    // 4.4.3.8 EXT-X-SERVER-CONTROL: blocking reloads (6.2.5.2) and the hold-back for parts
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,${view.skipUntilSeconds ? `CAN-SKIP-UNTIL=${view.skipUntilSeconds.toFixed(1)},` : ''}PART-HOLD-BACK=${partHoldBackSeconds(view.partTargetMs)}`,
    // 4.4.3.7 EXT-X-PART-INF
    `#EXT-X-PART-INF:PART-TARGET=${partTargetSeconds(view.partTargetMs)}`,
    `#EXT-X-MEDIA-SEQUENCE:${view.mediaSequence}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${view.discontinuitySequence}`,
  ];
  // 4.4.4.9: parts SHOULD be removed once more than three target durations from the live edge.
  // We keep them back to the last INDEPENDENT part as well (with a long GOP that may be further):
  // a player can only start decoding at one, so it needs to know where it is.
  const all = view.open ? [...view.segments, view.open] : [...view.segments];
  let fromEndMs = 0;
  const partsFrom = new Set<number>();
  let independentSeen = false;
  for (let i = all.length - 1; i >= 0; i--) {
    const s = all[i]!;
    if (fromEndMs > 3 * view.targetDurationSeconds * 1000 && independentSeen) break;
    partsFrom.add(s.sequence);
    if (s.parts.some((p) => p.independent)) independentSeen = true;
    fromEndMs += s.durationMs;
  }
  let initId: number | undefined;
  // The EXT-X-KEY in effect (4.4.4.4 applies it to every segment and part after it), as written.
  let keyInEffect = keyTag(undefined);
  const setKey = (sequence: number | undefined) => {
    const tag = keyTag(sequence === undefined ? undefined : uris.encryption?.(sequence));
    if (tag !== keyInEffect) lines.push(tag);
    keyInEffect = tag;
  };
  all.forEach((s, i) => {
    // Tags that apply to a segment come before its first part (4.4.4.9). A discontinuity stays on
    // the first segment until it slides out and is counted in DISCONTINUITY-SEQUENCE (4.4.3.3).
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (s.initId !== initId) {
      // Init segments are served clear: the key in effect at an EXT-X-MAP would apply to it
      // (4.4.4.5), so none is while it is declared.
      if (uris.encryption) setKey(undefined);
      lines.push(`#EXT-X-MAP:URI=${quoted(uris.init(s.initId))}`);
      initId = s.initId;
    }
    if (uris.encryption) setKey(s.sequence);
    if (i === 0 || s.discontinuity) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${dateTime(s.programDateTime)}`);
    if (partsFrom.has(s.sequence)) for (const p of s.parts) lines.push(partLine(p, uris));
    if (s !== view.open) lines.push(`#EXTINF:${(s.durationMs / 1000).toFixed(3)},`, uris.segment(s.sequence));
  });
  if (view.ended) lines.push('#EXT-X-ENDLIST');
  else {
    // A hint that opens a new segment: its key (decided ahead) is announced before the hint, so
    // the player decrypts the part it fetches early with the right one.
    if (uris.encryption && view.nextPart.sequence !== view.open?.sequence) setKey(view.nextPart.sequence);
    lines.push(
      `#EXT-X-PRELOAD-HINT:TYPE=PART,URI=${quoted(uris.part(view.nextPart.sequence, view.nextPart.index))}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function partLine(p: LlPart, uris: LlPlaylistUris): string {
  return `#EXT-X-PART:DURATION=${(p.durationMs / 1000).toFixed(3)},URI=${quoted(uris.part(p.sequence, p.index))}${p.independent ? ',INDEPENDENT=YES' : ''}`;
}

/**
 * Skip Boundary to advertise (CAN-SKIP-UNTIL, 4.4.3.8): six target durations, the least the spec
 * allows; undefined when the window is not longer than that, since nothing could be skipped.
 */
export function skipBoundarySeconds(targetDurationSeconds: number, windowMs: number): number | undefined {
  const boundary = 6 * targetDurationSeconds;
  return windowMs > boundary * 1000 ? boundary : undefined;
}

/** `_HLS_skip=YES` (or `v2`; there are no date ranges to skip) asks for a delta update (6.2.5.1). */
export function wantsDeltaUpdate(query: URLSearchParams): boolean {
  const v = query.get('_HLS_skip');
  return v === 'YES' || v === 'v2';
}

/**
 * Playlist Delta Update (6.2.5.1, EXT-X-SKIP 4.4.5.2) of a rendered LL-HLS playlist, done on the
 * text so origins and edges (which hold the origin's text) make the same one. The segments that
 * end more than the playlist's CAN-SKIP-UNTIL before its end become `EXT-X-SKIP:SKIPPED-SEGMENTS=n`;
 * the first segment kept gets the EXT-X-MAP, EXT-X-KEY and PROGRAM-DATE-TIME in effect for it
 * (the player no longer sees the tags that set them). The header (media and discontinuity
 * sequence) stays that of the full playlist; EXT-X-SKIP needs version 9. A playlist without
 * CAN-SKIP-UNTIL, or with nothing old enough, is returned as it is.
 */
export function deltaUpdate(text: string): string {
  const boundaryMatch = /CAN-SKIP-UNTIL=(\d+(?:\.\d+)?)/.exec(text);
  if (!boundaryMatch) return text;
  const boundaryMs = Number(boundaryMatch[1]) * 1000;
  const lines = text.split('\n');
  const bodyAt = lines.findIndex((l) => l.startsWith('#EXT-X-DISCONTINUITY-SEQUENCE:')) + 1;
  if (bodyAt <= 0) return text;
  // Segment blocks: the tags before a segment's URI, and the URI.
  const blocks: { lines: string[]; durationMs: number }[] = [];
  let current: string[] = [];
  for (const line of lines.slice(bodyAt)) {
    current.push(line);
    if (line && !line.startsWith('#')) {
      const extinf = current.find((l) => l.startsWith('#EXTINF:'));
      blocks.push({ lines: current, durationMs: extinf ? Number.parseFloat(extinf.slice(8)) * 1000 : 0 });
      current = [];
    }
  }
  const tail = current; // the open segment's parts, the hint or ENDLIST
  const tailMs = tail
    .filter((l) => l.startsWith('#EXT-X-PART:'))
    .reduce((n, l) => n + Number.parseFloat(/DURATION=([\d.]+)/.exec(l)?.[1] ?? '0') * 1000, 0);
  let afterMs = tailMs + blocks.reduce((n, b) => n + b.durationMs, 0);
  let skipped = 0;
  let map: string | undefined;
  let key: string | undefined;
  let pdtMs: number | undefined;
  for (const b of blocks) {
    afterMs -= b.durationMs;
    if (afterMs < boundaryMs) break;
    skipped++;
    for (const l of b.lines) {
      if (l.startsWith('#EXT-X-MAP:')) map = l;
      else if (l.startsWith('#EXT-X-KEY:')) key = l.includes('METHOD=NONE') ? undefined : l;
      else if (l.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdtMs = Date.parse(l.slice(25));
    }
    if (pdtMs !== undefined) pdtMs += b.durationMs;
  }
  if (skipped === 0 || skipped === blocks.length) return text;
  const first = blocks[skipped]!.lines;
  const media = first.findIndex((l) => l.startsWith('#EXT-X-PART:') || l.startsWith('#EXTINF:'));
  const own = (prefix: string) => first.slice(0, media).some((l) => l.startsWith(prefix));
  const carried: string[] = [];
  if (map && !own('#EXT-X-MAP:')) carried.push(map);
  if (key && !own('#EXT-X-KEY:') && !own('#EXT-X-MAP:')) carried.push(key);
  if (pdtMs !== undefined && !Number.isNaN(pdtMs) && !own('#EXT-X-PROGRAM-DATE-TIME:'))
    carried.push(`#EXT-X-PROGRAM-DATE-TIME:${dateTime(pdtMs)}`);
  const header = lines
    .slice(0, bodyAt)
    .map((l) => (l.startsWith('#EXT-X-VERSION:') ? '#EXT-X-VERSION:9' : l));
  // Tags such as EXT-X-DISCONTINUITY stay first in the kept segment's block, before what is carried.
  const lead = first.slice(0, media).filter((l) => l === '#EXT-X-DISCONTINUITY');
  const rest = first.filter((l, i) => !(i < media && l === '#EXT-X-DISCONTINUITY'));
  return [
    ...header,
    `#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`,
    ...lead,
    ...carried,
    ...rest,
    ...blocks.slice(skipped + 1).flatMap((b) => b.lines),
    ...tail,
  ].join('\n');
}
