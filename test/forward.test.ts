/**
 * Restreaming as a user runs it: `channel create studio --backup --forward B --forward NMS` on
 * relaycast A; ffmpeg publishes to A with the channel's key. B (another relaycast) and
 * node-media-server 4 both play the stream; B killed and started again → the forward reconnects by
 * itself; `forward remove` stops it; keys never appear in A's logs or answers. In a cluster, the
 * origin holding the active publisher forwards: a backup switch carries the forward over without
 * reconnecting (the destination then shows the backup's picture), and after that origin dies the
 * forward runs from the origin the broadcaster republishes to.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startNms } from './helpers/nms.ts';
import {
  CLI,
  ffprobe,
  killAll,
  NODE,
  publish,
  run,
  startClusterNode,
  startRelaycast,
  waitFor,
} from './helpers/process.ts';
import { startRedis } from './helpers/redis.ts';

after(killAll);

interface Fwd {
  id: string;
  url: string;
  state: string;
  reconnects: number;
  lastError: string | null;
  bytesSent: number;
}

describe('restreaming: channel forwards', { timeout: 300_000 }, () => {
  it('A forwards to relaycast B and node-media-server; survives B restarting; remove stops it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'relaycast-forward-'));
    try {
      const a = await startRelaycast('all', ['--publish-auth', 'keys', '--data-dir', join(dataDir, 'a')]);
      let b = await startRelaycast('all', ['--data-dir', join(dataDir, 'b')]);
      const nms = await startNms(join(dataDir, 'nms'));
      const cli = (...args: string[]) =>
        run(NODE, [CLI, ...args, '--control-plane', `127.0.0.1:${a.ports.grpc}`], 60_000);
      const toB = `rtmp://127.0.0.1:${b.ports.rtmp}/live/b-secret-key-1`;
      const toNms = `rtmp://127.0.0.1:${nms.rtmp}/live/nms-secret-key-2`;

      // bad destinations are refused at create time with a clear code
      const bad = await cli('channel', 'create', 'x', '--forward', 'http://example.com/live/k');
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /RC_FORWARD_URL_INVALID|expected rtmp:\/\/host/);
      const created = await cli(
        'channel',
        'create',
        'studio',
        '--backup',
        '--forward',
        toB,
        '--forward',
        toNms,
        '--json',
      );
      assert.equal(created.code, 0, created.stderr);
      const { key } = JSON.parse(created.stdout) as { key: string };
      const loop = await cli(
        'channel',
        'forward',
        'add',
        'studio',
        `rtmp://127.0.0.1:${a.ports.rtmp}/live/${key}`,
      );
      assert.notEqual(loop.code, 0);
      assert.match(loop.stderr, /would loop/);

      const list = async () => {
        const r = await cli('channel', 'forward', 'list', 'studio', '--json');
        assert.equal(r.code, 0, r.stderr);
        return (JSON.parse(r.stdout) as { forwards: Fwd[] }).forwards;
      };
      const idle = await list();
      assert.deepEqual(
        idle.map((f) => [f.id, f.state, f.url]),
        [
          ['f1', 'idle', `rtmp://127.0.0.1:${b.ports.rtmp}/live/***`],
          ['f2', 'idle', `rtmp://127.0.0.1:${nms.rtmp}/live/***`],
        ],
      );

      publish(`rtmp://127.0.0.1:${a.ports.rtmp}/live/${key}`, { size: '480x270', rate: 25, gop: 25 });
      const allLive = () =>
        waitFor(
          'both forwards live',
          async () => ((await list()).every((f) => f.state === 'live') ? true : undefined),
          60_000,
          500,
        );
      await allLive();
      const width = async (url: string) =>
        (await ffprobe(url)).streams.find((s) => s.codec_type === 'video')?.width as number | undefined;
      const plays = (what: string, url: string, w: number) =>
        waitFor(
          what,
          async () => ((await width(url).catch(() => undefined)) === w ? true : undefined),
          60_000,
          500,
        );
      await plays('B plays the primary', `http://127.0.0.1:${b.ports.http}/live/b-secret-key-1.flv`, 480);
      await plays(
        'node-media-server plays the primary',
        `http://127.0.0.1:${nms.http}/live/nms-secret-key-2.flv`,
        480,
      );
      const probe = await ffprobe(`http://127.0.0.1:${b.ports.http}/live/b-secret-key-1.flv`);
      assert.ok(probe.streams.some((s) => s.codec_type === 'audio' && s.codec_name === 'aac'));

      // B dies: the forward retries with a reason; B comes back on the same ports: live again
      const ports = b.ports;
      await b.stop('SIGKILL');
      const down = await waitFor(
        'the forward to B retrying',
        async () => (await list()).find((f) => f.id === 'f1' && f.state === 'retrying'),
        60_000,
        500,
      );
      assert.match(down.lastError ?? '', /^RC_RTMP_/);
      b = await startRelaycast('all', ['--data-dir', join(dataDir, 'b')], {}, ports);
      await allLive();
      await plays('B plays again', `http://127.0.0.1:${b.ports.http}/live/b-secret-key-1.flv`, 480);
      const before = (await list()).find((f) => f.id === 'f1')!;
      assert.ok(before.reconnects >= 1);

      // metrics count what was pushed
      const metrics = await (await fetch(`http://127.0.0.1:${a.ports.admin}/metrics`)).text();
      assert.match(metrics, /relaycast_forward_bytes_total\{[^}]*forward="f1"[^}]*\} [1-9]/);
      assert.match(metrics, /relaycast_forwards\{[^}]*state="live"[^}]*\} 2/);

      // remove: B's copy ends
      const removed = await cli('channel', 'forward', 'remove', 'studio', 'f1');
      assert.equal(removed.code, 0, removed.stderr);
      await waitFor(
        'B to lose the stream',
        async () => {
          const r = await fetch(`http://127.0.0.1:${b.ports.admin}/api/v1/streams`);
          const body = (await r.json()) as { streams: { name: string; live: boolean }[] };
          return body.streams.some((s) => s.name === 'b-secret-key-1' && s.live) ? undefined : true;
        },
        60_000,
        500,
      );
      assert.deepEqual(
        (await list()).map((f) => f.id),
        ['f2'],
      );
      // destination keys never reach A's logs
      const logs = JSON.stringify(a.logs) + a.stderr.join('');
      assert.ok(!logs.includes('b-secret-key-1') && !logs.includes('nms-secret-key-2'), 'no key in the logs');
    } finally {
      await killAll();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('cluster: the origin holding the active publisher forwards; a backup switch keeps the connection; failover moves it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'relaycast-forward-cluster-'));
    const redis = await startRedis();
    try {
      const cp = await startClusterNode('control-plane', redis.url, 'fw-cp');
      const origin = (id: string) => startClusterNode('origin', redis.url, id, ['--publish-auth', 'keys']);
      const o1 = await origin('fw-origin-1');
      const o2 = await origin('fw-origin-2');
      const dest = await startRelaycast('all', ['--data-dir', join(dataDir, 'dest')]);
      const cli = (...args: string[]) =>
        run(NODE, [CLI, ...args, '--control-plane', `127.0.0.1:${cp.ports.grpc}`], 60_000);
      const created = await cli(
        'channel',
        'create',
        'show',
        '--backup',
        '--forward',
        `rtmp://127.0.0.1:${dest.ports.rtmp}/live/show-copy`,
        '--json',
      );
      assert.equal(created.code, 0, created.stderr);
      const { key, backupKey } = JSON.parse(created.stdout) as { key: string; backupKey: string };
      const forward = async () => {
        const r = await cli('channel', 'forward', 'list', 'show', '--json');
        assert.equal(r.code, 0, r.stderr);
        return (
          JSON.parse(r.stdout) as { forwards: (Fwd & { nodeId: string | null; role: string | null })[] }
        ).forwards[0]!;
      };
      const destWidth = (w: number, what: string) =>
        waitFor(
          what,
          async () => {
            const probe = await ffprobe(`http://127.0.0.1:${dest.ports.http}/live/show-copy.flv`).catch(
              () => undefined,
            );
            return probe?.streams.find((st) => st.codec_type === 'video')?.width === w ? true : undefined;
          },
          60_000,
          500,
        );
      const pubs = [
        publish(`rtmp://127.0.0.1:${o1.ports.rtmp}/live/${key}`, { size: '480x270', rate: 25, gop: 25 }),
        publish(`rtmp://127.0.0.1:${o1.ports.rtmp}/live/${backupKey}`, {
          size: '320x180',
          rate: 25,
          gop: 25,
        }),
      ];
      const first = await waitFor(
        'the forward live from origin 1',
        async () => {
          const f = await forward();
          // (under load the switcher may start on the backup until the primary's media flows)
          return f.state === 'live' && f.nodeId === 'fw-origin-1' && f.role === 'primary' ? f : undefined;
        },
        60_000,
        500,
      );
      await destWidth(480, 'the destination plays the primary');

      const sw = await cli('stream', 'switch', 'live/show', '--to', 'backup');
      assert.equal(sw.code, 0, sw.stderr);
      await destWidth(320, 'the destination shows the backup');
      const switched = await waitFor(
        'the forward to follow the backup',
        async () => {
          const f = await forward();
          return f.role === 'backup' ? f : undefined;
        },
        30_000,
        500,
      );
      assert.equal(switched.state, 'live');
      assert.equal(switched.reconnects, first.reconnects, 'the switch did not reconnect the destination');

      // origin 1 dies; the broadcaster's backup encoder reconnects to origin 2: the forward follows
      await o1.stop('SIGKILL');
      for (const p of pubs) await p.stop();
      publish(`rtmp://127.0.0.1:${o2.ports.rtmp}/live/${backupKey}`, { size: '320x180', rate: 25, gop: 25 });
      await waitFor(
        'the forward live from origin 2',
        async () => {
          const f = await forward();
          return f.state === 'live' && f.nodeId === 'fw-origin-2' ? f : undefined;
        },
        90_000,
        500,
      );
      await destWidth(320, 'the destination plays again');
      const o2metrics = await (await fetch(`http://127.0.0.1:${o2.ports.admin}/metrics`)).text();
      assert.match(o2metrics, /relaycast_forwards\{[^}]*state="live"[^}]*\} 1/);
    } finally {
      await killAll();
      await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
