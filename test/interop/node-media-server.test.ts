/**
 * Interoperability with node-media-server 4, an independent RTMP/FLV implementation:
 * - NMS's RTMP client PUSHES a stream into relaycast (our publish side vs. their client);
 * - NMS's RTMP client PLAYS a stream from relaycast (our play side vs. their client); we check
 *   what it received. (Its pull relay's HTTP-FLV re-serving is left out: it intermittently
 *   serves a copy without the AVC configuration, whatever the source.)
 * This is the role we chose for node-media-server (see README design notes).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ffprobe,
  freePort,
  getJson,
  killAll,
  NODE,
  publish,
  type RelaycastProcess,
  run,
  startRelaycast,
  track,
  waitFor,
} from '../helpers/process.ts';

describe('node-media-server interop', { timeout: 180_000 }, () => {
  let rc: RelaycastProcess;
  const peers: { rtmp: number; http: number }[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'relaycast-nms-'));

  /** One NMS process per scenario: relay sessions sharing an NMS instance interfere with each other. */
  async function startPeer(relays: Record<string, string>[]): Promise<{ rtmp: number; http: number }> {
    const ports = { rtmp: await freePort(), http: await freePort() };
    const cfg = {
      rtmpPort: ports.rtmp,
      httpPort: ports.http,
      dataDir: join(dataDir, String(ports.rtmp)),
      relays,
    };
    const peer = track(
      spawn(NODE, [join(import.meta.dirname, 'nms-peer.cjs'), JSON.stringify(cfg)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    let out = '';
    peer.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    await waitFor('node-media-server to start', () => (out.includes('NMS-READY') ? true : undefined), 20_000);
    peers.push(ports);
    return ports;
  }

  before(async () => {
    rc = await startRelaycast('all');
  });
  after(async () => {
    await killAll();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("relaycast accepts a publish from node-media-server's RTMP client", async () => {
    const nms = await startPeer([
      { url: `rtmp://127.0.0.1:${rc.ports.rtmp}/live/fromnms`, mode: 'push', streamPath: '/live/src' },
    ]);
    publish(`rtmp://127.0.0.1:${nms.rtmp}/live/src`, { size: '480x270' });
    await waitFor(
      'fromnms live on relaycast',
      async () => {
        const r = await getJson<{ streams: { name: string; live: boolean; video?: { width?: number } }[] }>(
          `http://127.0.0.1:${rc.ports.admin}/api/v1/streams`,
        );
        return r.body.streams.find((s) => s.name === 'fromnms' && s.live && s.video?.width === 480);
      },
      40_000,
      300,
    );
    const probe = await ffprobe(`http://127.0.0.1:${rc.ports.http}/live/fromnms.flv`);
    assert.equal(probe.streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264');
    assert.equal(probe.streams.find((s) => s.codec_type === 'video')?.width, 480);
    assert.equal(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');
  });

  it("node-media-server's RTMP client plays from relaycast: config first, then a keyframe, then steady media", async () => {
    publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/origin`, { size: '320x240' });
    await waitFor(
      'origin live with video',
      async () => {
        const r = await getJson<{ video?: { width?: number } }>(
          `http://127.0.0.1:${rc.ports.admin}/api/v1/streams/live/origin`,
        );
        return r.body.video?.width === 320 ? true : undefined;
      },
      20_000,
      200,
    );
    const cfg = { probe: { url: `rtmp://127.0.0.1:${rc.ports.rtmp}/live/origin`, ms: 4000 } };
    const r = await run(NODE, [join(import.meta.dirname, 'nms-peer.cjs'), JSON.stringify(cfg)], 30_000);
    const line = r.stdout.split('\n').find((l) => l.startsWith('PROBE '));
    assert.ok(line, `no probe result: ${r.stdout.slice(-500)} ${r.stderr.slice(-500)}`);
    const packets = JSON.parse(line.slice(6)) as [number, string, number, number][];
    const video = packets.filter((p) => p[0] === 9);
    assert.equal(video[0]?.[1], '1700', 'AVC sequence header first');
    assert.equal(video[1]?.[1], '1701', 'then a keyframe');
    assert.ok(video.length >= 60, `${video.length} video packets in 4 s`);
    assert.ok(
      packets.some((p) => p[0] === 8 && p[1] === 'af00'),
      'AAC sequence header',
    );
    for (let i = 2; i < video.length; i++) assert.ok(video[i]![2] >= video[i - 1]![2], 'video dts monotonic');
  });
});
