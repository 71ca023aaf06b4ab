/**
 * Leak test of the real cluster roles (cli/roles.ts startOrigin, startEdge) in this process on a
 * real redis-server: ffmpeg publishes to the origin, viewers of every kind watch on the edge
 * through its pull (HTTP-FLV, RTMP, HLS via the edge's proxy), the publisher is kicked, then both
 * nodes run their own stopAccepting() and close(). Afterwards no socket, timer (unref'd ones
 * included) or child process may remain.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, describe, it } from 'node:test';
import { startEdge, startOrigin } from '../cli/roles.ts';
import { loadConfig } from '../core/config.ts';
import { RtmpClient } from '../media/rtmp/client.ts';
import { backToBaseline, get, resources, until } from './helpers/leak.ts';
import { freePort, killAll, publish } from './helpers/process.ts';
import { startRedis } from './helpers/redis.ts';
import { trackTimers } from './helpers/timer-tracker.ts';

const N = 20;

describe('leak: an origin and an edge on Redis', () => {
  after(killAll);

  it(`publish on the origin, ${N} FLV + ${N} RTMP + ${N} HLS viewers on the edge, kick, both nodes close(): nothing left`, async () => {
    const redis = await startRedis();
    const o = { rtmp: await freePort(), internal: await freePort(), admin: await freePort() };
    const e = { rtmp: await freePort(), http: await freePort(), admin: await freePort() };
    const common: [string, string][] = [
      ['redis-url', redis.url],
      ['host', '127.0.0.1'],
      ['advertise-host', '127.0.0.1'],
      ['log-level', 'silent'],
      // one process: this test counts this process's sockets and timers (workers have their own tests)
      ['workers', '1'],
    ];
    const originConfig = loadConfig(
      'origin',
      new Map<string, string | true>([
        ...common,
        ['node-id', 'leak-origin'],
        ['rtmp-port', String(o.rtmp)],
        ['internal-port', String(o.internal)],
        ['admin-port', String(o.admin)],
      ]),
      {},
    );
    const edgeConfig = loadConfig(
      'edge',
      new Map<string, string | true>([
        ...common,
        ['node-id', 'leak-edge'],
        ['rtmp-port', String(e.rtmp)],
        ['http-port', String(e.http)],
        ['admin-port', String(e.admin)],
      ]),
      {},
    );
    const baseline = resources();
    const timers = trackTimers();
    try {
      const origin = await startOrigin(originConfig, 'test');
      const edge = await startEdge(edgeConfig, 'test');
      const ffmpeg = publish(`rtmp://127.0.0.1:${o.rtmp}/live/cl`, { size: '160x120', rate: 25, gop: 25 });
      const flv: Awaited<ReturnType<typeof get>>[] = [];
      for (let i = 0; i < 300 && flv.length === 0; i++) {
        const r = await get(`http://127.0.0.1:${e.http}/live/cl.flv`);
        if (r.status === 200) flv.push(r);
        else {
          await r.text();
          await new Promise((res) => setTimeout(res, 100));
        }
      }
      assert.equal(flv.length, 1, 'the stream went live on the edge');
      for (let i = 1; i < N; i++) flv.push(await get(`http://127.0.0.1:${e.http}/live/cl.flv`));
      const players = await Promise.all(
        Array.from({ length: N }, async () => {
          const c = await RtmpClient.open('127.0.0.1', e.rtmp);
          let bytes = 0;
          c.onMedia = (m) => {
            bytes += m.payload.length;
          };
          await c.connect('live');
          await c.play(await c.createStream(), 'cl');
          return { c, bytes: () => bytes };
        }),
      );
      for (let i = 0; i < N; i++) {
        const pl = await get(`http://127.0.0.1:${e.http}/live/cl.m3u8`);
        assert.equal(pl.status, 200);
        await pl.text();
      }
      await until(
        'every viewer got media',
        () => flv.every((v) => v.bytes() > 0) && players.every((p) => p.bytes() > 0),
      );

      // Kick through the origin's admin API (from loopback, no token), as an operator would.
      const kick = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(
          `http://127.0.0.1:${o.admin}/api/v1/streams/live/cl`,
          { method: 'DELETE', agent: false, headers: { 'content-type': 'application/json' } },
          (res) => {
            const parts: Buffer[] = [];
            res.on('data', (c: Buffer) => parts.push(c));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }),
            );
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.equal(kick.status, 200, kick.body);
      assert.deepEqual(JSON.parse(kick.body), { kicked: true });
      await ffmpeg.stop();
      await edge.stopAccepting();
      await edge.close();
      await origin.stopAccepting();
      await origin.close();
      for (const p of players) p.c.close();
      for (const v of flv) v.close();
      await redis.stop();

      await backToBaseline(baseline, timers);
    } finally {
      timers.uninstall();
    }
  });
});
