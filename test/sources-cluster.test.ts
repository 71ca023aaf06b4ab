/**
 * Channel sources in a cluster (issue 16): the control plane leader assigns a channel's MPEG-TS
 * source to an origin, which receives it under a lease like a publisher; an edge viewer plays it.
 * kill -9 that origin: the leader moves the source to the other origin, which binds the port and
 * registers the stream with a newer generation; the edge viewer carries on on the same connection.
 * --source-networks keeps a source off an origin that cannot reach it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { TAG_VIDEO } from '../media/tag.ts';
import { assertMonotonic, openFlv } from './helpers/flv-client.ts';
import {
  CLI,
  freePort,
  killAll,
  NODE,
  run,
  startClusterNode,
  videoWidth,
  waitFor,
} from './helpers/process.ts';
import { startRedis } from './helpers/redis.ts';
import { sendTs } from './helpers/ts-sender.ts';

after(killAll);

const isKeyframe = (t: { type: number; data: Buffer }) => t.type === TAG_VIDEO && t.data[0]! >> 4 === 1;

describe('channel sources in a cluster', { timeout: 300_000 }, () => {
  it('the leader assigns the source to an origin; after kill -9 of that origin another picks it up and the edge viewer continues', async () => {
    const redis = await startRedis();
    try {
      const cp = await startClusterNode('control-plane', redis.url, 'src-cp');
      const origin = (id: string, extra: string[] = []) => startClusterNode('origin', redis.url, id, extra);
      const origins = {
        'src-origin-1': await origin('src-origin-1'),
        'src-origin-2': await origin('src-origin-2'),
        // this one cannot receive 127.0.0.0/8 sources: it must never get the channel
        'src-origin-far': await origin('src-origin-far', ['--source-networks', '10.99.0.0/16']),
      };
      const edge = await startClusterNode('edge', redis.url, 'src-edge', ['--republish-wait', '60']);
      const cli = (...args: string[]) =>
        run(NODE, [CLI, ...args, '--control-plane', `127.0.0.1:${cp.ports.grpc}`], 60_000);
      const port = await freePort();
      const created = await cli('channel', 'create', 'tv', '--source', `udp://127.0.0.1:${port}`, '--json');
      assert.equal(created.code, 0, created.stderr);
      const assigned = await waitFor(
        'the source assigned to an origin',
        async () => {
          const r = await cli('channel', 'get', 'tv', '--json');
          const src = (JSON.parse(r.stdout) as { source: { state: string | null } }).source;
          return src.state ? src : undefined;
        },
        30_000,
        300,
      );
      assert.ok(assigned);
      sendTs(`udp://127.0.0.1:${port}`, 'mpegts', 'libx264', 120);
      const first = await waitFor(
        'the source received',
        async () => {
          const r = await fetch(`http://127.0.0.1:${cp.ports.admin}/api/v1/channels/live/tv`);
          const body = (await r.json()) as { source?: { status?: { state: string; nodeId?: string } } };
          return body.source?.status?.state === 'receiving' ? body.source.status : undefined;
        },
        60_000,
        300,
      );
      const holder = first.nodeId as keyof typeof origins;
      assert.ok(holder === 'src-origin-1' || holder === 'src-origin-2', `assigned to ${holder}`);
      const human = await cli('channel', 'list');
      assert.match(human.stdout, /receiving/);

      const read = await openFlv(`http://127.0.0.1:${edge.ports.http}/live/tv.flv`);
      assert.equal(read.status, 200);
      await waitFor(
        'keyframes at the edge',
        () => (read.tags.filter(isKeyframe).length >= 2 ? true : undefined),
        60_000,
      );

      await origins[holder].stop('SIGKILL');
      const before = read.tags.length;
      const other = holder === 'src-origin-1' ? 'src-origin-2' : 'src-origin-1';
      await waitFor(
        `the source moved to ${other}`,
        async () => {
          const r = await fetch(`http://127.0.0.1:${cp.ports.admin}/api/v1/channels/live/tv`);
          const body = (await r.json()) as { source?: { status?: { state: string; nodeId?: string } } };
          return body.source?.status?.nodeId === other && body.source.status.state === 'receiving'
            ? true
            : undefined;
        },
        60_000,
        300,
      );
      await waitFor(
        'a new keyframe on the same edge connection',
        () => (read.tags.slice(before).filter(isKeyframe).length >= 2 ? true : undefined),
        60_000,
      );
      read.close();
      assertMonotonic(read.tags, TAG_VIDEO, 'video');
      const far = await (
        await fetch(`http://127.0.0.1:${origins['src-origin-far'].ports.admin}/api/v1/sources`)
      ).json();
      assert.deepEqual(
        (far as { sources: unknown[] }).sources,
        [],
        'the origin outside the networks never got it',
      );
    } finally {
      await killAll();
      await redis.stop();
    }
  });

  it('a backup source on another origin takes over when the primary source goes silent, and the channel reverts when it returns', async () => {
    const redis = await startRedis();
    try {
      const cp = await startClusterNode('control-plane', redis.url, 'bk-cp');
      await startClusterNode('origin', redis.url, 'bk-origin-1');
      await startClusterNode('origin', redis.url, 'bk-origin-2');
      const edge = await startClusterNode('edge', redis.url, 'bk-edge', ['--republish-wait', '60']);
      const cli = (...args: string[]) =>
        run(NODE, [CLI, ...args, '--control-plane', `127.0.0.1:${cp.ports.grpc}`], 60_000);
      const [p1, p2] = [await freePort(), await freePort()];
      const created = await cli(
        'channel',
        'create',
        'news',
        '--source',
        `udp://127.0.0.1:${p1}`,
        '--backup-source',
        `udp://127.0.0.1:${p2}`,
        '--revert-after',
        '2',
        '--json',
      );
      assert.equal(created.code, 0, created.stderr);
      let primary = sendTs(`udp://127.0.0.1:${p1}`, 'mpegts', 'libx264', 120, '320x240');
      sendTs(`udp://127.0.0.1:${p2}`, 'mpegts', 'libx264', 120, '240x160');
      const channel = async () => {
        const r = await fetch(`http://127.0.0.1:${cp.ports.admin}/api/v1/channels/live/news`);
        return (await r.json()) as {
          activeRole: string;
          source?: { status?: { state: string; nodeId?: string } };
          backupSource?: { status?: { state: string; nodeId?: string } };
        };
      };
      const both = await waitFor(
        'both sources received',
        async () => {
          const c = await channel();
          return c.source?.status?.state === 'receiving' && c.backupSource?.status?.state === 'receiving'
            ? c
            : undefined;
        },
        60_000,
        300,
      );
      assert.notEqual(both.source?.status?.nodeId, both.backupSource?.status?.nodeId, 'on different origins');
      let sequenceHeaders = 0;
      const read = await openFlv(`http://127.0.0.1:${edge.ports.http}/live/news.flv`, (tag) => {
        if (tag.type === TAG_VIDEO && tag.data[1] === 0) sequenceHeaders++; // AVC sequence header
      });
      assert.equal(read.status, 200);
      await waitFor(
        'keyframes at the edge',
        () => (read.tags.filter(isKeyframe).length >= 2 ? true : undefined),
        60_000,
      );
      const probeWidth = () => videoWidth(`http://127.0.0.1:${edge.ports.http}/live/news.flv`);
      // the switcher may have started on the backup while the primary's first media arrived
      await waitFor(
        'the edge plays the primary',
        async () => ((await probeWidth()) === 320 ? true : undefined),
        60_000,
        500,
      );

      primary.kill('SIGKILL');
      await waitFor(
        'the switch to the backup',
        async () => ((await channel()).activeRole === 'backup' ? true : undefined),
        60_000,
        300,
      );
      await waitFor(
        'the edge plays the backup',
        async () => ((await probeWidth()) === 240 ? true : undefined),
        60_000,
        500,
      );
      assert.ok(sequenceHeaders >= 2, 'the viewer got the backup sequence header on the same connection');

      primary = sendTs(`udp://127.0.0.1:${p1}`, 'mpegts', 'libx264', 120, '320x240');
      await waitFor(
        'the revert to the primary',
        async () => ((await channel()).activeRole === 'primary' ? true : undefined),
        60_000,
        300,
      );
      await waitFor(
        'the edge plays the primary again',
        async () => ((await probeWidth()) === 320 ? true : undefined),
        60_000,
        500,
      );
      read.close();
      assertMonotonic(read.tags, TAG_VIDEO, 'video');
    } finally {
      await killAll();
      await redis.stop();
    }
  });
});
