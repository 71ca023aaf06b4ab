/**
 * Channel sources end to end (issue 16): ffmpeg sends MPEG-TS over UDP and RTP to the all-in-one,
 * which receives them as `sources:` from its YAML config; viewers get HTTP-FLV and HLS.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FlvDemuxer } from '../media/flv/demuxer.ts';
import { TAG_VIDEO } from '../media/tag.ts';
import {
  CLI,
  ffprobe,
  freePort,
  getJson,
  killAll,
  NODE,
  type RelaycastProcess,
  run,
  startRelaycast,
  stopProcess,
  waitFor,
} from './helpers/process.ts';
import { sendTs } from './helpers/ts-sender.ts';

async function freeUdpPort(): Promise<number> {
  return freePort(); // TCP and UDP port spaces differ; a free TCP port on loopback is as good as any
}

/** Distinct codecs: ffmpeg's FLV reader opens one audio stream per MP2 tag (see media/mpegts/elementary.ts). */
const describeStreams = (streams: Record<string, unknown>[]) =>
  [...new Set(streams.map((s) => `${s.codec_name}${s.width ? ` ${s.width}x${s.height}` : ''}`))].sort();

describe('channel sources in the all-in-one (MPEG-TS over UDP/RTP)', { concurrency: false }, () => {
  let node: RelaycastProcess;
  let dir: string;
  const ports: Record<string, number> = {};
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rc-sources-'));
    for (const k of ['udp', 'rtp', 'hevc', 'cli']) ports[k] = await freeUdpPort();
    const config = join(dir, 'relaycast.yaml');
    writeFileSync(
      config,
      [
        'sources:',
        `  - { name: tvudp, url: "udp://127.0.0.1:${ports.udp}" }`,
        `  - { name: tvrtp, url: "rtp://127.0.0.1:${ports.rtp}" }`,
        `  - { name: tvhevc, url: "udp://127.0.0.1:${ports.hevc}" }`,
        '',
      ].join('\n'),
    );
    node = await startRelaycast('all', ['--config', config]);
  });
  after(async () => {
    await node?.stop();
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('UDP: H.264 + MP2 is live under live/<channel>; HTTP-FLV probes as h264 320x240 + mp2; a restarted source keeps the viewer with monotonic timestamps', async () => {
    let ff = sendTs(`udp://127.0.0.1:${ports.udp}`, 'mpegts', 'libx264');
    const flv = `http://127.0.0.1:${node.ports.http}/live/tvudp.flv`;
    const probe = await waitFor('tvudp live', async () => (await ffprobe(flv)).streams, 60_000, 500);
    assert.deepEqual(describeStreams(probe), ['h264 320x240', 'mp2']);

    // one viewer over the restart
    const res = await fetch(flv);
    const reader = res.body!.getReader();
    const demux = new FlvDemuxer();
    const videoTs: number[] = [];
    let bytes = 0;
    const pump = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        bytes += value.length;
        for (const t of demux.push(Buffer.from(value))) if (t.type === TAG_VIDEO) videoTs.push(t.timestamp);
      }
    })();
    await waitFor('frames before restart', () => videoTs.length > 30, 30_000);
    await stopProcess(ff, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 1500));
    const atRestart = videoTs.length;
    ff = sendTs(`udp://127.0.0.1:${ports.udp}`, 'mpegts', 'libx264'); // timestamps start over
    await waitFor('frames after restart', () => videoTs.length > atRestart + 50, 60_000);
    for (let i = 1; i < videoTs.length; i++)
      assert.ok(videoTs[i]! >= videoTs[i - 1]!, `timestamp went back: ${videoTs[i - 1]} → ${videoTs[i]}`);
    // the timeline moved on after the restart (a clamped, stalled clock would also be monotonic)
    assert.ok(videoTs.at(-1)! - videoTs[atRestart]! >= 1000, `${videoTs[atRestart]} → ${videoTs.at(-1)}`);
    assert.ok(bytes > 0);
    await reader.cancel();
    await pump.catch(() => {});
    await stopProcess(ff, 'SIGKILL');

    const { body } = await getJson<{
      sources: { name: string; state: string; packets: number; discontinuities: number }[];
    }>(`http://127.0.0.1:${node.ports.admin}/api/v1/sources`);
    const s = body.sources.find((x) => x.name === 'tvudp')!;
    assert.ok(s.packets > 1000);
    assert.ok(s.discontinuities >= 1, JSON.stringify(s));
  });

  it('RTP (rtp_mpegts): HTTP-FLV probes as h264 320x240 + mp2', async () => {
    const ff = sendTs(`rtp://127.0.0.1:${ports.rtp}`, 'rtp_mpegts', 'libx264', 30);
    try {
      const flv = `http://127.0.0.1:${node.ports.http}/live/tvrtp.flv`;
      const probe = await waitFor('tvrtp live', async () => (await ffprobe(flv)).streams, 60_000, 500);
      assert.deepEqual(describeStreams(probe), ['h264 320x240', 'mp2']);
      const text = await (await fetch(`http://127.0.0.1:${node.ports.admin}/metrics`)).text();
      assert.match(text, /relaycast_source_state\{[^}]*source="tvrtp"[^}]*state="receiving"[^}]*\} 1/);
    } finally {
      await stopProcess(ff, 'SIGKILL');
    }
  });

  it('H.265 + MP2 over UDP: HLS (MPEG-TS segments) probes as hevc 320x240 + mp2', async () => {
    const ff = sendTs(`udp://127.0.0.1:${ports.hevc}`, 'mpegts', 'libx265', 40);
    try {
      const m3u8 = `http://127.0.0.1:${node.ports.http}/live/tvhevc.ts.m3u8`;
      const probe = await waitFor(
        'tvhevc HLS',
        async () => {
          const streams = (await ffprobe(m3u8)).streams;
          return streams.some((s) => s.codec_name === 'hevc') ? streams : undefined;
        },
        90_000,
        1000,
      );
      assert.deepEqual(describeStreams(probe), ['hevc 320x240', 'mp2']);
    } finally {
      await stopProcess(ff, 'SIGKILL');
    }
  });

  it('channel create NAME --source URL starts receiving at once; channel list shows the source; delete stops it', async () => {
    const cli = (...args: string[]) =>
      run(NODE, [CLI, ...args, '--control-plane', `127.0.0.1:${node.ports.grpc}`], 30_000);
    const bad = await cli('channel', 'create', 'tvbad', '--source', 'udp://example.com:5000');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr + bad.stdout, /RC_SOURCE_URL_INVALID|the host must be an IP address/);
    const made = await cli(
      'channel',
      'create',
      'tvcli',
      '--source',
      `udp://127.0.0.1:${ports.cli}`,
      '--json',
    );
    assert.equal(made.code, 0, made.stderr);
    assert.equal(JSON.parse(made.stdout).channel.source.url, `udp://127.0.0.1:${ports.cli}`);
    const ff = sendTs(`udp://127.0.0.1:${ports.cli}`, 'mpegts', 'libx264', 30);
    try {
      const flv = `http://127.0.0.1:${node.ports.http}/live/tvcli.flv`;
      const probe = await waitFor('tvcli live', async () => (await ffprobe(flv)).streams, 60_000, 500);
      assert.deepEqual(describeStreams(probe), ['h264 320x240', 'mp2']);
      const list = await cli('channel', 'list');
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /SOURCE/);
      assert.match(
        list.stdout,
        new RegExp(
          `live/tvcli .*receiving on \\S+ \\d+ kb/s cc=\\d+ last=\\d+s ago udp://127\\.0\\.0\\.1:${ports.cli}`,
        ),
      );
      const asJson = JSON.parse((await cli('channel', 'get', 'tvcli', '--json')).stdout);
      assert.equal(asJson.source.state, 'receiving');
      assert.ok(asJson.source.packets > 0);
    } finally {
      await stopProcess(ff, 'SIGKILL');
    }
    assert.equal((await cli('channel', 'delete', 'tvcli')).code, 0);
    await waitFor(
      'tvcli source stopped',
      async () => {
        const { body } = await getJson<{ sources: { name: string }[] }>(
          `http://127.0.0.1:${node.ports.admin}/api/v1/sources`,
        );
        return !body.sources.some((s) => s.name === 'tvcli');
      },
      15_000,
    );
  });
});
