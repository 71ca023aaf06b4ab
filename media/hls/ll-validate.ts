/**
 * Checks the MUST rules of RFC 8216bis (and Apple's LL-HLS authoring rules where they are
 * stricter) on LL-HLS media playlists. Used by the unit and end-to-end tests on every playlist
 * the server produces; returns what is wrong, one line per problem.
 *
 * - #EXTM3U first; EXT-X-TARGETDURATION present; every EXTINF rounds to at most it (4.4.3.1).
 * - With EXT-X-PART: EXT-X-PART-INF present, every part's DURATION ≤ PART-TARGET (4.4.4.9),
 *   EXT-X-SERVER-CONTROL with CAN-BLOCK-RELOAD=YES and PART-HOLD-BACK ≥ 3 × PART-TARGET
 *   (4.4.3.8 says ≥ 2×; Apple says 3×).
 * - Parts of a segment come before its URI and sum to its EXTINF; tags that apply to a segment
 *   (DISCONTINUITY, MAP, PROGRAM-DATE-TIME) never sit between its parts.
 * - EXT-X-MAP before the first segment or part (fMP4, 4.4.4.5).
 * - At most one EXT-X-PRELOAD-HINT of TYPE=PART, after the last part, and none after ENDLIST.
 * - Across playlists of one stream (LlPlaylistValidator): MEDIA-SEQUENCE and
 *   DISCONTINUITY-SEQUENCE never go back (6.2.1/6.2.2).
 */

export interface ParsedLlPlaylist {
  targetDuration: number;
  partTarget: number | undefined;
  mediaSequence: number;
  discontinuitySequence: number;
  segments: {
    uri: string;
    duration: number;
    parts: { uri: string; duration: number; independent: boolean }[];
  }[];
  /** Parts after the last segment URI (the segment being built). */
  openParts: { uri: string; duration: number; independent: boolean }[];
  preloadHint: string | undefined;
  ended: boolean;
  maps: string[];
  canBlockReload: boolean;
  partHoldBack: number | undefined;
  /** CAN-SKIP-UNTIL, seconds. */
  canSkipUntil: number | undefined;
  /** EXT-X-SKIP:SKIPPED-SEGMENTS of a delta update (the first `segments` entry follows them). */
  skippedSegments: number;
  version: number;
}

function attrs(line: string): Map<string, string> {
  const out = new Map<string, string>();
  const body = line.slice(line.indexOf(':') + 1);
  for (const m of body.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) out.set(m[1]!, m[2]!.replace(/^"|"$/g, ''));
  return out;
}

/** Parses and checks one playlist; `problems` lists every MUST it breaks. */
export function validateLlPlaylist(text: string): { problems: string[]; playlist: ParsedLlPlaylist } {
  const problems: string[] = [];
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const pl: ParsedLlPlaylist = {
    targetDuration: Number.NaN,
    partTarget: undefined,
    mediaSequence: 0,
    discontinuitySequence: 0,
    segments: [],
    openParts: [],
    preloadHint: undefined,
    ended: false,
    maps: [],
    canBlockReload: false,
    partHoldBack: undefined,
    canSkipUntil: undefined,
    skippedSegments: 0,
    version: 1,
  };
  if (lines[0] !== '#EXTM3U') problems.push('the first line is not #EXTM3U');
  let pendingInf: number | undefined;
  let parts: ParsedLlPlaylist['openParts'] = [];
  let sawMedia = false;
  let hints = 0;
  for (const [i, line] of lines.entries()) {
    const at = `line ${i + 1}`;
    if (line.startsWith('#EXT-X-TARGETDURATION:')) pl.targetDuration = Number(line.split(':')[1]);
    else if (line.startsWith('#EXT-X-PART-INF:')) pl.partTarget = Number(attrs(line).get('PART-TARGET'));
    else if (line.startsWith('#EXT-X-SERVER-CONTROL:')) {
      const a = attrs(line);
      pl.canBlockReload = a.get('CAN-BLOCK-RELOAD') === 'YES';
      if (a.has('PART-HOLD-BACK')) pl.partHoldBack = Number(a.get('PART-HOLD-BACK'));
      if (a.has('CAN-SKIP-UNTIL')) pl.canSkipUntil = Number(a.get('CAN-SKIP-UNTIL'));
    } else if (line.startsWith('#EXT-X-VERSION:')) pl.version = Number(line.split(':')[1]);
    else if (line.startsWith('#EXT-X-SKIP:')) {
      // 4.4.5.2: only in a delta update of a playlist that offers them, before every segment.
      if (sawMedia || pl.segments.length > 0) problems.push(`${at}: EXT-X-SKIP after a segment or part`);
      if (pl.canSkipUntil === undefined) problems.push(`${at}: EXT-X-SKIP without CAN-SKIP-UNTIL`);
      pl.skippedSegments = Number(attrs(line).get('SKIPPED-SEGMENTS'));
      if (!Number.isInteger(pl.skippedSegments) || pl.skippedSegments < 1)
        problems.push(`${at}: SKIPPED-SEGMENTS is not a positive integer`);
    } else if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) pl.mediaSequence = Number(line.split(':')[1]);
    else if (line.startsWith('#EXT-X-DISCONTINUITY-SEQUENCE:'))
      pl.discontinuitySequence = Number(line.split(':')[1]);
    else if (line.startsWith('#EXT-X-MAP:')) {
      if (parts.length > 0) problems.push(`${at}: EXT-X-MAP between the parts of one segment`);
      pl.maps.push(attrs(line).get('URI') ?? '');
    } else if (line === '#EXT-X-DISCONTINUITY' || line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      if (parts.length > 0) problems.push(`${at}: ${line.split(':')[0]} between the parts of one segment`);
    } else if (line.startsWith('#EXT-X-PART:')) {
      if (hints > 0) problems.push(`${at}: EXT-X-PART after the preload hint`);
      if (pl.maps.length === 0) problems.push(`${at}: a part before any EXT-X-MAP`);
      sawMedia = true;
      const a = attrs(line);
      const duration = Number(a.get('DURATION'));
      if (!a.get('URI')) problems.push(`${at}: EXT-X-PART without URI`);
      if (pl.partTarget === undefined) problems.push(`${at}: EXT-X-PART without EXT-X-PART-INF`);
      else if (!(duration <= pl.partTarget + 1e-9))
        problems.push(`${at}: part of ${duration} s exceeds PART-TARGET ${pl.partTarget}`);
      parts.push({ uri: a.get('URI') ?? '', duration, independent: a.get('INDEPENDENT') === 'YES' });
    } else if (line.startsWith('#EXT-X-PRELOAD-HINT:')) {
      if (attrs(line).get('TYPE') === 'PART') hints++;
      pl.preloadHint = attrs(line).get('URI');
    } else if (line.startsWith('#EXTINF:')) {
      pendingInf = Number.parseFloat(line.slice('#EXTINF:'.length));
    } else if (line === '#EXT-X-ENDLIST') pl.ended = true;
    else if (!line.startsWith('#')) {
      if (pendingInf === undefined) problems.push(`${at}: URI without EXTINF`);
      if (pl.maps.length === 0) problems.push(`${at}: a segment before any EXT-X-MAP`);
      sawMedia = true;
      const duration = pendingInf ?? 0;
      if (Math.round(duration) > pl.targetDuration)
        problems.push(`${at}: EXTINF ${duration} rounds above TARGETDURATION ${pl.targetDuration}`);
      if (parts.length > 0) {
        const sum = parts.reduce((n, p) => n + p.duration, 0);
        if (Math.abs(sum - duration) > 0.001 * parts.length + 1e-9)
          problems.push(`${at}: parts add up to ${sum.toFixed(3)} s, EXTINF says ${duration}`);
      }
      pl.segments.push({ uri: line, duration, parts });
      parts = [];
      pendingInf = undefined;
    }
  }
  pl.openParts = parts;
  if (!Number.isFinite(pl.targetDuration)) problems.push('no EXT-X-TARGETDURATION');
  if (pl.skippedSegments > 0 && pl.version < 9)
    problems.push(`EXT-X-SKIP needs EXT-X-VERSION 9, not ${pl.version}`);
  if (pl.canSkipUntil !== undefined && pl.canSkipUntil < 6 * pl.targetDuration)
    problems.push(`CAN-SKIP-UNTIL ${pl.canSkipUntil} is less than 6 × TARGETDURATION ${pl.targetDuration}`);
  if (!sawMedia) problems.push('no segment and no part');
  if (hints > 1) problems.push(`${hints} preload hints of TYPE=PART`);
  if (pl.ended && hints > 0) problems.push('a preload hint after EXT-X-ENDLIST');
  if (pl.partTarget !== undefined) {
    if (!pl.canBlockReload) problems.push('EXT-X-PART-INF without CAN-BLOCK-RELOAD=YES');
    if (pl.partHoldBack === undefined) problems.push('EXT-X-PART-INF without PART-HOLD-BACK');
    else if (pl.partHoldBack + 1e-9 < 3 * pl.partTarget)
      problems.push(`PART-HOLD-BACK ${pl.partHoldBack} is less than 3 × PART-TARGET ${pl.partTarget}`);
  }
  return { problems, playlist: pl };
}

/** Checks every playlist of one stream, and that the sequences never go back between them. */
export class LlPlaylistValidator {
  private last: ParsedLlPlaylist | undefined;
  readonly problems: string[] = [];
  checked = 0;

  check(text: string, label = `playlist ${this.checked + 1}`): ParsedLlPlaylist {
    const { problems, playlist } = validateLlPlaylist(text);
    for (const p of problems) this.problems.push(`${label}: ${p}`);
    const prev = this.last;
    if (prev) {
      if (playlist.mediaSequence < prev.mediaSequence)
        this.problems.push(
          `${label}: MEDIA-SEQUENCE went back from ${prev.mediaSequence} to ${playlist.mediaSequence}`,
        );
      if (playlist.discontinuitySequence < prev.discontinuitySequence)
        this.problems.push(
          `${label}: DISCONTINUITY-SEQUENCE went back from ${prev.discontinuitySequence} to ${playlist.discontinuitySequence}`,
        );
    }
    this.last = playlist;
    this.checked++;
    return playlist;
  }
}
