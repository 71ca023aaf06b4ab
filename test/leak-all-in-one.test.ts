/**
 * Leak test of the real all-in-one composition (cli/run.ts startAll), in this process: publish,
 * viewers of every kind the all-in-one serves, a channel with a backup watched through the program
 * feed, a forward that keeps retrying an unreachable destination and a pull source, then the
 * node's own stopAccepting() and close().
 * Afterwards no socket, timer (unref'd ones included) or child process may remain. The process
 * itself ends with process.exit after close(), which would hide such leaks; this test does not.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { startAll } from '../cli/run.ts';
import { RtmpClient } from '../media/rtmp/client.ts';
import { backToBaseline, get, resources, until } from './helpers/leak.ts';
import { freePort, inProcessAllConfig, killAll, publish } from './helpers/process.ts';
import { trackTimers } from './helpers/timer-tracker.ts';

const N = 20;

describe('leak: the all-in-one node', () => {
  after(killAll);

  it(`publish, ${N} FLV + ${N} RTMP + ${N} HLS viewers, node close(): nothing left running`, async () => {
    // one process: this test counts this process's sockets and timers (workers have their own tests)
    const { config, ports } = await inProcessAllConfig(1);
    const baseline = resources();
    const timers = trackTimers();
    let node: Awaited<ReturnType<typeof startAll>> | undefined;
    try {
      node = await startAll(config, 'test');
      const ffmpeg = publish(`rtmp://127.0.0.1:${ports.rtmp}/live/aio`, {
        size: '160x120',
        rate: 25,
        gop: 25,
      });
      const flv: Awaited<ReturnType<typeof get>>[] = [];
      for (let i = 0; i < 200 && flv.length === 0; i++) {
        const r = await get(`http://127.0.0.1:${ports.http}/live/aio.flv`);
        if (r.status === 200) flv.push(r);
        else {
          await r.text();
          await new Promise((res) => setTimeout(res, 100));
        }
      }
      assert.equal(flv.length, 1, 'the stream went live');
      for (let i = 1; i < N; i++) flv.push(await get(`http://127.0.0.1:${ports.http}/live/aio.flv`));
      const players = await Promise.all(
        Array.from({ length: N }, async () => {
          const c = await RtmpClient.open('127.0.0.1', ports.rtmp);
          let bytes = 0;
          c.onMedia = (m) => {
            bytes += m.payload.length;
          };
          await c.connect('live');
          await c.play(await c.createStream(), 'aio');
          return { c, bytes: () => bytes };
        }),
      );
      // the playlist exists once the first segment is cut, a moment after the stream goes live
      let playlistStatus = 0;
      for (let i = 0; i < 200 && playlistStatus !== 200; i++) {
        const pl = await get(`http://127.0.0.1:${ports.http}/live/aio.m3u8`);
        playlistStatus = pl.status;
        await pl.text();
        if (playlistStatus !== 200) await new Promise((res) => setTimeout(res, 100));
      }
      assert.equal(playlistStatus, 200, 'the HLS playlist appeared');
      for (let i = 0; i < N; i++) {
        const pl = await get(`http://127.0.0.1:${ports.http}/live/aio.m3u8`);
        assert.equal(pl.status, 200);
        await pl.text();
      }
      await until(
        'every viewer got media',
        () => flv.every((v) => v.bytes() > 0) && players.every((p) => p.bytes() > 0),
      );

      // A channel with a backup (its viewers go through the program feed), a forward to a port
      // nobody listens on (it keeps retrying), and a channel pulling the first stream over HTTP-FLV.
      const api = (path: string, body: unknown) =>
        fetch(`http://127.0.0.1:${ports.admin}/api/v1${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const dead = await freePort();
      const sw = await api('/channels', {
        name: 'sw',
        backup: true,
        forwards: [`rtmp://127.0.0.1:${dead}/live/k`],
      });
      assert.equal(sw.status, 201);
      const { key } = (await sw.json()) as { key: string };
      const pulled = await api('/channels', {
        name: 'pulled',
        source: { url: `http://127.0.0.1:${ports.http}/live/aio.flv` },
      });
      assert.equal(pulled.status, 201);
      const primary = publish(`rtmp://127.0.0.1:${ports.rtmp}/live/${key}`, {
        size: '160x120',
        rate: 25,
        gop: 25,
      });
      const program: Awaited<ReturnType<typeof get>>[] = [];
      for (let i = 0; i < 200 && program.length === 0; i++) {
        const r = await get(`http://127.0.0.1:${ports.http}/live/sw.flv`);
        if (r.status === 200) program.push(r);
        else {
          await r.text();
          await new Promise((res) => setTimeout(res, 100));
        }
      }
      assert.equal(program.length, 1, 'the channel with a backup plays through the program feed');
      const pulledView: Awaited<ReturnType<typeof get>>[] = [];
      for (let i = 0; i < 200 && pulledView.length === 0; i++) {
        const r = await get(`http://127.0.0.1:${ports.http}/live/pulled.flv`);
        if (r.status === 200) pulledView.push(r);
        else {
          await r.text();
          await new Promise((res) => setTimeout(res, 100));
        }
      }
      assert.equal(pulledView.length, 1, 'the pull source is live');
      await until(
        'program and pull viewers got media',
        () => program[0]!.bytes() > 0 && pulledView[0]!.bytes() > 0,
      );
      flv.push(...program, ...pulledView);
      await primary.stop();

      await node.stopAccepting();
      await node.close();
      await ffmpeg.stop();
      for (const p of players) p.c.close();
      for (const v of flv) v.close();

      await backToBaseline(baseline, timers);
    } finally {
      timers.uninstall();
      // after a failed assertion the node would keep this test process alive forever
      await node?.close().catch(() => {});
    }
  });

  it('a start that fails part-way (the gRPC port is taken) leaves nothing running', async () => {
    const { config, ports } = await inProcessAllConfig(1);
    const baseline = resources();
    const timers = trackTimers();
    // The control plane starts last: by then the listeners, the registry and the sources run.
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(ports.grpc, '127.0.0.1', r));
    try {
      await assert.rejects(startAll(config, 'test'), (err: Error & { code?: string }) => {
        assert.match(`${err.code} ${err.message}`, /RC_PORT_IN_USE|EADDRINUSE/);
        return true;
      });
      await backToBaseline(baseline, timers);
    } finally {
      timers.uninstall();
      await new Promise((r) => squatter.close(r));
    }
  });
});
