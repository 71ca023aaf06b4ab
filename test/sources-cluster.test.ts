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
import { CLI, freePort, killAll, NODE, run, startClusterNode, waitFor } from './helpers/process.ts';
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
});
