/**
 * HEVC through LL-HLS: an Enhanced-RTMP (`hvc1`) publisher — the project's own RTMP client, since
 * the ffmpeg here (5.1) cannot write HEVC into FLV — sends an HEVC stream that libx265 encoded;
 * the all-in-one packages it as fMP4 with an `hvc1`/`hvcC` sample entry, and ffprobe/ffmpeg read
 * and decode the LL-HLS playlist with no error.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unescapeRbsp } from '../media/codec/bits.ts';
import { validateLlPlaylist } from '../media/hls/ll-validate.ts';
import { RtmpClient } from '../media/rtmp/client.ts';
import { TAG_VIDEO } from '../media/tag.ts';
import { killAll, type RelaycastProcess, run, startRelaycast, waitFor } from './helpers/process.ts';

const haveX265 = spawnSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' }).stdout?.includes(
  'libx265',
);

/** NAL units of an Annex B byte stream (start codes removed). */
function annexBNals(data: Buffer): Buffer[] {
  const starts: number[] = [];
  for (let i = 0; i + 3 <= data.length; i++)
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      starts.push(i + 3);
      i += 2;
    }
  return starts.map((s, k) => {
    let end = k + 1 < starts.length ? starts[k + 1]! - 3 : data.length;
    while (end > s && data[end - 1] === 0) end--; // the zero byte of a 4-byte start code
    return data.subarray(s, end);
  });
}

const nalType = (nal: Buffer) => (nal[0]! >> 1) & 0x3f;

/** Access units: a new one starts at a parameter set, AUD or prefix SEI, or a first slice, after a VCL NAL. */
function accessUnits(nals: Buffer[]): Buffer[][] {
  const out: Buffer[][] = [];
  let cur: Buffer[] = [];
  let hasVcl = false;
  for (const nal of nals) {
    const t = nalType(nal);
    const vcl = t < 32;
    const firstSlice = vcl && (nal[2]! & 0x80) !== 0;
    if (hasVcl && ((t >= 32 && t <= 35) || t === 39 || firstSlice)) {
      out.push(cur);
      cur = [];
      hasVcl = false;
    }
    cur.push(nal);
    if (vcl) hasVcl = true;
  }
  if (cur.length) out.push(cur);
  return out;
}

/** HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1) from VPS, SPS, PPS; 4-byte NAL lengths. */
function hvcC(vps: Buffer, sps: Buffer, pps: Buffer): Buffer {
  const rbsp = unescapeRbsp(sps.subarray(2));
  const head = Buffer.alloc(23);
  head[0] = 1; // configurationVersion
  rbsp.copy(head, 1, 1, 13); // general_profile_space..general_level_idc, as in the SPS's profile_tier_level
  head.writeUInt16BE(0xf000, 13); // min_spatial_segmentation_idc 0
  head[15] = 0xfc; // parallelismType 0
  head[16] = 0xfc | 1; // chroma_format_idc 4:2:0
  head[17] = 0xf8; // bit_depth_luma_minus8
  head[18] = 0xf8; // bit_depth_chroma_minus8
  head.writeUInt16BE(0, 19); // avgFrameRate
  head[21] = (1 << 3) | (1 << 2) | 3; // numTemporalLayers 1, temporalIdNested, lengthSizeMinusOne 3
  head[22] = 3; // numOfArrays
  const array = (nal: Buffer) => {
    const h = Buffer.alloc(5);
    h[0] = 0x80 | nalType(nal); // array_completeness
    h.writeUInt16BE(1, 1);
    h.writeUInt16BE(nal.length, 3);
    return Buffer.concat([h, nal]);
  };
  return Buffer.concat([head, array(vps), array(sps), array(pps)]);
}

/** Enhanced RTMP VIDEODATA (veovera): IsExHeader | FrameType | PacketType, FourCC 'hvc1', payload. */
function exVideoTag(packetType: 0 | 1, key: boolean, payload: Buffer): Buffer {
  const head = Buffer.from([0x80 | ((key ? 1 : 2) << 4) | packetType, 0x68, 0x76, 0x63, 0x31]);
  return Buffer.concat(packetType === 1 ? [head, Buffer.from([0, 0, 0]), payload] : [head, payload]); // CodedFrames: SI24 CTS 0
}

describe('HEVC (Enhanced RTMP hvc1) through LL-HLS', {
  timeout: 180_000,
  skip: !haveX265 && 'no libx265',
}, () => {
  let dir: string;
  let rc: RelaycastProcess;
  let client: RtmpClient | undefined;
  let sending: Promise<void> | undefined;
  let stop = false;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rc-hevc-'));
    const file = join(dir, 'in.hevc');
    execFileSync('ffmpeg', [
      ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-t', '10'],
      ...[
        '-c:v',
        'libx265',
        '-preset',
        'ultrafast',
        '-x265-params',
        'keyint=60:min-keyint=60:bframes=0:log-level=error',
      ],
      ...['-pix_fmt', 'yuv420p', '-f', 'hevc', file],
    ]);
    const aus = accessUnits(annexBNals(readFileSync(file)));
    const first = aus[0]!;
    const find = (t: number) => first.find((n) => nalType(n) === t)!;
    const record = hvcC(find(32), find(33), find(34));
    rc = await startRelaycast('all');
    const c = await RtmpClient.open('127.0.0.1', rc.ports.rtmp);
    client = c;
    await c.connect('live');
    const streamId = await c.createStream();
    await c.publish(streamId, 'hevc');
    c.sendMedia(streamId, TAG_VIDEO, 0, exVideoTag(0, true, record));
    // Frames in real time (30 fps), looping the clip with rising timestamps, until the test ends.
    sending = (async () => {
      const t0 = Date.now();
      for (let i = 0; !stop && i < 30 * 120; i++) {
        const au = aus[i % aus.length]!;
        const key = au.some((n) => nalType(n) >= 16 && nalType(n) <= 23);
        const vcl = au.filter((n) => nalType(n) !== 35); // no AUD in length-prefixed samples
        const payload = Buffer.concat(
          vcl.flatMap((n) => {
            const len = Buffer.alloc(4);
            len.writeUInt32BE(n.length);
            return [len, n];
          }),
        );
        const ts = Math.round((i * 1000) / 30);
        c.sendMedia(streamId, TAG_VIDEO, ts, exVideoTag(1, key, payload));
        const wait = t0 + ts - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
  });

  after(async () => {
    stop = true;
    await sending;
    client?.close();
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ffprobe sees hevc 320x240 in the LL playlist and ffmpeg decodes it with no error', async () => {
    const url = `http://127.0.0.1:${rc.ports.http}/live/hevc/ll.m3u8`;
    const text = await waitFor(
      'an HEVC LL-HLS playlist with two segments',
      async () => {
        const res = await fetch(url);
        if (res.status !== 200) return undefined;
        const t = await res.text();
        return validateLlPlaylist(t).playlist.segments.length >= 2 ? t : undefined;
      },
      40_000,
      500,
    );
    assert.deepEqual(validateLlPlaylist(text).problems, []);
    const init = validateLlPlaylist(text).playlist.maps[0]!;
    const initBytes = Buffer.from(
      await (await fetch(`http://127.0.0.1:${rc.ports.http}/live/hevc/${init}`)).arrayBuffer(),
    );
    assert.ok(initBytes.includes('hvc1') && initBytes.includes('hvcC'), 'hvc1 sample entry with hvcC');
    const probe = await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', url]);
    assert.equal(probe.code, 0, probe.stderr);
    const v = (
      JSON.parse(probe.stdout) as { streams: { codec_name: string; width: number; height: number }[] }
    ).streams[0];
    assert.equal(v?.codec_name, 'hevc', probe.stdout);
    assert.equal(v.width, 320);
    assert.equal(v.height, 240);
    const dec = await run('ffmpeg', ['-v', 'error', '-i', url, '-t', '3', '-f', 'null', '-'], 60_000);
    assert.equal(dec.code, 0, dec.stderr);
    assert.equal(dec.stderr.trim(), '', 'no decoding errors');
  });
});
