/**
 * Forwarding end to end with real peers: ffmpeg publishes into an in-process origin (a real
 * RtmpServer feeding a StreamHub), a Forwarder pushes that stream to a relaycast all-in-one
 * process B, and ffprobe reads B's HTTP-FLV. B is killed and started again on the same ports; the
 * forward must go 'retrying' and then 'live' again by itself. Then node-media-server 4 as the
 * destination, an independent RTMP implementation.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestRtmpServer, type TestRtmpServer } from '../core/testing/rtmp-server.ts';
import { StreamHub } from '../media/hub/hub.ts';
import type { HubStream } from '../media/hub/stream.ts';
import { Forwarder, type ForwardState } from '../origin/forward.ts';
import { startNms } from './helpers/nms.ts';
import {
  ffprobe,
  getJson,
  killAll,
  publish,
  type RelaycastProcess,
  startRelaycast,
  waitFor,
} from './helpers/process.ts';

const KEY = 'fwd-secret-key-4711';

describe('forwarding a stream to another server', { timeout: 240_000 }, () => {
  let hub: StreamHub;
  let origin: TestRtmpServer;
  let source: HubStream;
  const forwarders: Forwarder[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'relaycast-fwd-nms-'));

  before(async () => {
    hub = new StreamHub({ republishWaitMs: 60_000 });
    origin = await startTestRtmpServer(hub);
    publish(`rtmp://127.0.0.1:${origin.port}/live/src`, { size: '480x270', rate: 25, gop: 25 });
    source = await waitFor(
      'ffmpeg publishing into the origin',
      () => hub.getLive('live', 'src')?.videoSequenceHeader && hub.getLive('live', 'src'),
      20_000,
    );
  });
  after(async () => {
    for (const f of forwarders) f.close('shutdown');
    origin?.close();
    hub?.close();
    await killAll();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function startForward(url: string): { fwd: Forwarder; states: ForwardState[] } {
    const fwd = new Forwarder({ url, stream: source, retryMinMs: 250, retryMaxMs: 2000, timeoutMs: 5000 });
    forwarders.push(fwd);
    const states: ForwardState[] = [];
    fwd.on('state', (s) => states.push(s));
    return { fwd, states };
  }

  const liveOnB = (b: RelaycastProcess) =>
    waitFor(
      'the forwarded stream live on B with video',
      async () => {
        const r = await getJson<{ streams: { name: string; live: boolean; video?: unknown }[] }>(
          `http://127.0.0.1:${b.ports.admin}/api/v1/streams`,
        );
        return r.body.streams.find((s) => s.name === KEY && s.live && s.video);
      },
      30_000,
      200,
    );

  async function assertH264Aac(url: string, width: number): Promise<void> {
    const probe = await ffprobe(url);
    const v = probe.streams.find((s) => s.codec_type === 'video');
    const a = probe.streams.find((s) => s.codec_type === 'audio');
    assert.ok(v && a, `expected video+audio from ${url}, got ${JSON.stringify(probe.streams)}`);
    assert.equal(v.codec_name, 'h264');
    assert.equal(v.width, width);
    assert.equal(a.codec_name, 'aac');
  }

  it('pushes to relaycast B; B killed → retrying with lastError; B back on the same port → live, ffprobe works', async () => {
    let b = await startRelaycast('all');
    const { fwd, states } = startForward(`rtmp://127.0.0.1:${b.ports.rtmp}/live/${KEY}`);
    await waitFor('forward live', () => fwd.info.state === 'live', 20_000);
    await liveOnB(b);
    await assertH264Aac(`http://127.0.0.1:${b.ports.http}/live/${KEY}.flv`, 480);

    const ports = b.ports;
    await b.stop('SIGKILL');
    await waitFor('forward retrying', () => fwd.info.state === 'retrying', 20_000);
    const down = fwd.info;
    assert.match(down.lastError ?? '', /^RC_RTMP_(CLOSED|CONNECT_FAILED): /);
    assert.doesNotMatch(JSON.stringify(states), new RegExp(KEY), 'the key never shows in state');
    assert.equal(down.url, `rtmp://127.0.0.1:${ports.rtmp}/live/***`);

    b = await startRelaycast('all', [], {}, ports);
    await waitFor('forward live again', () => fwd.info.state === 'live', 30_000);
    assert.ok(fwd.info.reconnects >= 1, `reconnects ${fwd.info.reconnects}`);
    await liveOnB(b);
    await assertH264Aac(`http://127.0.0.1:${b.ports.http}/live/${KEY}.flv`, 480);
    assert.ok(fwd.info.bytesSent > 100_000, `bytesSent ${fwd.info.bytesSent}`);
    fwd.close('stopped');
    assert.equal(fwd.info.state, 'stopped');
  });

  it('pushes to node-media-server 4: ffprobe of its HTTP-FLV shows h264 + aac', async () => {
    const ports = await startNms(dataDir);
    const { fwd } = startForward(`rtmp://127.0.0.1:${ports.rtmp}/live/${KEY}`);
    await waitFor('forward live', () => fwd.info.state === 'live', 20_000);
    await waitFor(
      'node-media-server serves the stream',
      async () => {
        await assertH264Aac(`http://127.0.0.1:${ports.http}/live/${KEY}.flv`, 480);
        return true;
      },
      30_000,
      500,
    );
    assert.equal(fwd.info.state, 'live');
    assert.equal(fwd.info.reconnects, 0, `lastError ${fwd.info.lastError}`);
  });
});
