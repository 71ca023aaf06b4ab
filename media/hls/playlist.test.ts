import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderMediaPlaylist } from './playlist.ts';
import type { HlsSegment } from './segmenter.ts';

const seg = (sequence: number, durationMs: number, extra: Partial<HlsSegment> = {}): HlsSegment => ({
  sequence,
  durationMs,
  discontinuity: false,
  data: Buffer.alloc(0),
  programDateTime: Date.UTC(2026, 0, 1, 0, 0, sequence, 250),
  hasKeyframeStart: true,
  byteLength: 0,
  ...extra,
});

const uri = (s: HlsSegment) => `test-${s.sequence}.ts?token=abc&e=1`;

describe('renderMediaPlaylist', () => {
  it('renders a live window (golden)', () => {
    const text = renderMediaPlaylist([seg(7, 1000), seg(8, 1001), seg(9, 999)], 7, 0, {
      segmentUri: uri,
      ended: false,
      targetDurationSeconds: 1,
    });
    assert.equal(
      text,
      `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:7
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:07.250Z
#EXTINF:1.000,
test-7.ts?token=abc&e=1
#EXTINF:1.001,
test-8.ts?token=abc&e=1
#EXTINF:0.999,
test-9.ts?token=abc&e=1
`,
    );
  });

  it('marks discontinuities with a fresh PROGRAM-DATE-TIME and carries the discontinuity sequence (golden)', () => {
    const text = renderMediaPlaylist(
      [
        seg(41, 2000),
        seg(42, 1500, { discontinuity: true }),
        seg(43, 1000),
        seg(44, 1000, { discontinuity: true }),
      ],
      41,
      3,
      { segmentUri: (s) => `s${s.sequence}.ts`, ended: false, targetDurationSeconds: 2, version: 6 },
    );
    assert.equal(
      text,
      `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:41
#EXT-X-DISCONTINUITY-SEQUENCE:3
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:41.250Z
#EXTINF:2.000,
s41.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:42.250Z
#EXTINF:1.500,
s42.ts
#EXTINF:1.000,
s43.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:44.250Z
#EXTINF:1.000,
s44.ts
`,
    );
  });

  it('prints the TARGETDURATION it is given (fixed by the segmenter), and ends with ENDLIST (golden)', () => {
    const text = renderMediaPlaylist([seg(1, 4200), seg(2, 4200), seg(3, 4533), seg(4, 400)], 1, 0, {
      segmentUri: (s) => `${s.sequence}.ts`,
      ended: true,
      targetDurationSeconds: 5,
    });
    assert.equal(
      text,
      `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:5
#EXT-X-MEDIA-SEQUENCE:1
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:01.250Z
#EXTINF:4.200,
1.ts
#EXTINF:4.200,
2.ts
#EXTINF:4.533,
3.ts
#EXTINF:0.400,
4.ts
#EXT-X-ENDLIST
`,
    );
  });

  it('drops INDEPENDENT-SEGMENTS while a segment in the window does not start at a keyframe; empty windows render', () => {
    const text = renderMediaPlaylist([seg(1, 1000), seg(2, 1000, { hasKeyframeStart: false })], 1, 0, {
      segmentUri: uri,
      ended: false,
      targetDurationSeconds: 1,
    });
    assert.doesNotMatch(text, /INDEPENDENT/);
    const empty = renderMediaPlaylist([], 12, 0, { segmentUri: uri, ended: false, targetDurationSeconds: 1 });
    assert.equal(
      empty,
      '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:12\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n',
    );
  });
});
