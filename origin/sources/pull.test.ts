import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAnySourceUrl } from '../../core/source-url.ts';
import { hlsVariants, parseHlsMediaPlaylist } from './pull.ts';

describe('pull sources', () => {
  it('source URLs: HTTP-FLV, HLS and RTMP pulls next to UDP/RTP; anything else is RC_SOURCE_URL_INVALID', () => {
    assert.deepEqual(parseAnySourceUrl('http://up.example/live/x.flv'), {
      protocol: 'http-flv',
      url: 'http://up.example/live/x.flv',
    });
    assert.deepEqual(parseAnySourceUrl('https://up.example/hls/x.m3u8?token=1'), {
      protocol: 'hls',
      url: 'https://up.example/hls/x.m3u8?token=1',
    });
    assert.deepEqual(parseAnySourceUrl('rtmp://up.example/live/x'), {
      protocol: 'rtmp',
      url: 'rtmp://up.example/live/x',
    });
    assert.equal(parseAnySourceUrl('udp://239.1.1.1:5000').protocol, 'udp');
    for (const bad of [
      'http://up.example/live/x.mp4',
      'rtmp://up.example/x',
      'ftp://h/x.flv',
      'http://u:p@h/x.flv',
      'nonsense',
    ])
      assert.throws(() => parseAnySourceUrl(bad), { code: 'RC_SOURCE_URL_INVALID' }, bad);
  });

  it('a master playlist leads to its highest-bandwidth variant, resolved against the playlist URL', () => {
    const master = [
      '#EXTM3U',
      '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360',
      'low/index.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080',
      'https://cdn.example/high.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=2500000',
      'mid.m3u8',
    ].join('\n');
    assert.deepEqual(hlsVariants(master, 'http://up.example/tv/master.m3u8'), [
      'https://cdn.example/high.m3u8',
      'http://up.example/tv/mid.m3u8',
      'http://up.example/tv/low/index.m3u8',
    ]);
    assert.deepEqual(hlsVariants('#EXTM3U\n#EXTINF:2,\na.ts\n', 'http://h/x.m3u8'), []);
  });

  it('media playlists: sequence numbers, discontinuities, the end; encrypted and fMP4 refused', () => {
    const pl = parseHlsMediaPlaylist(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:3',
        '#EXT-X-TARGETDURATION:4',
        '#EXT-X-MEDIA-SEQUENCE:120',
        '#EXTINF:4.0,',
        'seg120.ts',
        '#EXT-X-DISCONTINUITY',
        '#EXTINF:4.0,',
        '/abs/seg121.ts?t=1',
        '#EXT-X-ENDLIST',
      ].join('\r\n'),
      'http://up.example/live/x.m3u8',
    );
    assert.deepEqual(pl, {
      targetDurationS: 4,
      mediaSequence: 120,
      ended: true,
      segments: [
        { uri: 'http://up.example/live/seg120.ts', sequence: 120, discontinuity: false },
        { uri: 'http://up.example/abs/seg121.ts?t=1', sequence: 121, discontinuity: true },
      ],
    });
    assert.throws(() => parseHlsMediaPlaylist('<html>', 'http://h/x.m3u8'), { code: 'RC_SOURCE_UPSTREAM' });
    assert.throws(
      () =>
        parseHlsMediaPlaylist(
          '#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="k"\n#EXTINF:2,\na.ts',
          'http://h/x.m3u8',
        ),
      /encrypted HLS/,
    );
    assert.throws(
      () => parseHlsMediaPlaylist('#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n', 'http://h/x.m3u8'),
      /fMP4/,
    );
  });
});
