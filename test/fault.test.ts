/**
 * Fault injection with real processes: a Redis Sentinel failover under a live stream, and a
 * viewer that stops reading. What must hold: no process crashes, other viewers keep playing, the
 * stream is registered again on the new Redis primary, memory stays bounded (the slow viewer is
 * dropped and counted).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { isVideoSequenceHeader, TAG_VIDEO } from '../media/tag.ts';
import { openFlv } from './helpers/flv-client.ts';
import {
  freePort,
  getJson,
  killAll,
  publish,
  type RelaycastProcess,
  startRelaycast,
  stopProcess,
  track,
  waitFor,
} from './helpers/process.ts';
import { startRedis } from './helpers/redis.ts';

describe('Redis Sentinel failover under a live stream', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'rc-sentinel-'));
  const sentinelPorts: number[] = [];
  let primary: Awaited<ReturnType<typeof startRedis>>;
  let replicaPort: number;
  let origin: RelaycastProcess;
  let edge: RelaycastProcess;

  before(async () => {
    primary = await startRedis();
    replicaPort = await freePort();
    track(
      spawn(
        'redis-server',
        [
          '--port',
          String(replicaPort),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--replicaof',
          '127.0.0.1',
          String(primary.port),
          '--dir',
          dir,
        ],
        { stdio: 'ignore' },
      ),
    );
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${i}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor relaycast 127.0.0.1 ${primary.port} 2`,
          'sentinel down-after-milliseconds relaycast 1000',
          'sentinel failover-timeout relaycast 4000',
          'sentinel parallel-syncs relaycast 1',
          '',
        ].join('\n'),
      );
      track(spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }));
      sentinelPorts.push(port);
    }
    await waitFor(
      'replica in sync',
      async () => {
        const r = new Redis({ port: replicaPort, lazyConnect: true, maxRetriesPerRequest: 1 });
        try {
          await r.connect();
          const info = await r.info('replication');
          return /master_link_status:up/.test(info) ? true : undefined;
        } catch {
          return undefined;
        } finally {
          r.disconnect();
        }
      },
      20_000,
      250,
    );
    const url = `redis-sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/relaycast`;
    const common = ['--redis-url', url, '--lease-ttl', '2'];
    origin = await startRelaycast('origin', [...common, '--http-port', '0', '--grpc-port', '0']);
    edge = await startRelaycast('edge', [...common, '--internal-port', '0', '--grpc-port', '0']);
  });
  after(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  const streamKeyOn = async (port: number) => {
    const r = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await r.connect();
      return (await r.exists('relaycast:stream:live/sent:primary')) === 1;
    } catch {
      return false;
    } finally {
      r.disconnect();
    }
  };

  it('the replica is promoted; the stream is registered on it; the viewer keeps playing; new viewers start', async () => {
    publish(`rtmp://127.0.0.1:${origin.ports.rtmp}/live/sent`, { size: '320x240' });
    await waitFor(
      'registered on the primary',
      async () => ((await streamKeyOn(primary.port)) ? true : undefined),
      20_000,
      250,
    );
    const read = await openFlv(`http://127.0.0.1:${edge.ports.http}/live/sent.flv`);
    await waitFor(
      'frames',
      () => (read.tags.filter((t) => t.type === TAG_VIDEO).length > 30 ? true : undefined),
      15_000,
    );
    await primary.stop('SIGKILL');
    const t0 = Date.now();
    await waitFor(
      'sentinels to promote the replica',
      async () => {
        const s = new Redis({ port: sentinelPorts[0]!, lazyConnect: true, maxRetriesPerRequest: 1 });
        try {
          await s.connect();
          const addr = (await s.call('SENTINEL', 'get-master-addr-by-name', 'relaycast')) as string[];
          return Number(addr[1]) === replicaPort ? true : undefined;
        } catch {
          return undefined;
        } finally {
          s.disconnect();
        }
      },
      60_000,
      500,
    );
    await waitFor(
      'the stream lease alive on the new primary',
      async () => ((await streamKeyOn(replicaPort)) ? true : undefined),
      30_000,
      250,
    );
    const n = read.tags.length;
    await waitFor(
      'the viewer keeps receiving media',
      () => (read.tags.length > n + 60 ? true : undefined),
      15_000,
    );
    read.close();
    const second = await openFlv(`http://127.0.0.1:${edge.ports.http}/live/sent.flv`);
    await waitFor(
      'a new viewer after the failover',
      () =>
        second.tags.some((t) => t.type === TAG_VIDEO && !isVideoSequenceHeader(t.data)) ? true : undefined,
      15_000,
    );
    second.close();
    const reg = await getJson<{ streams: { name: string }[] }>(
      `http://127.0.0.1:${edge.ports.admin}/api/v1/registry`,
    );
    assert.ok(reg.body.streams.some((s) => s.name === 'sent'));
    assert.equal(origin.proc.exitCode, null);
    assert.equal(edge.proc.exitCode, null);
    console.log(
      `sentinel failover: stream registered on the new primary ${Date.now() - t0} ms after the old one was killed`,
    );
  });
});

describe('a viewer that stops reading', { timeout: 120_000 }, () => {
  let rc: RelaycastProcess;
  before(async () => {
    rc = await startRelaycast('all', ['--viewer-max-buffer-bytes', '65536', '--viewer-drop-after', '2']);
  });
  after(async () => {
    await killAll();
  });

  it('is cut back to keyframes, then dropped and counted; another viewer is unaffected', async () => {
    publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/slow`, { size: '640x360', extra: ['-b:v', '3M'] });
    await waitFor(
      'live',
      async () =>
        (await fetch(`http://127.0.0.1:${rc.ports.http}/live/slow.flv`, { method: 'HEAD' })).ok
          ? true
          : undefined,
      20_000,
      200,
    );
    const good = await openFlv(`http://127.0.0.1:${rc.ports.http}/live/slow.flv`);
    // a raw socket with a tiny receive window that never reads after the first bytes
    const sock = connect({ host: '127.0.0.1', port: rc.ports.http });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('GET /live/slow.flv HTTP/1.0\r\n\r\n');
    sock.once('data', () => sock.pause());
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.resume();
    const metrics = async () => (await fetch(`http://127.0.0.1:${rc.ports.admin}/metrics`)).text();
    await waitFor(
      'the slow viewer to be dropped',
      async () =>
        /relaycast_viewer_drops_total\{[^}]*reason="slow"[^}]*\} [1-9]/.test(await metrics())
          ? true
          : undefined,
      60_000,
      500,
    );
    assert.match(await metrics(), /relaycast_viewer_skips_total\{[^}]*\} [1-9]/);
    sock.destroy();
    await closed;
    const n = good.tags.length;
    await waitFor(
      'the other viewer still plays',
      () => (good.tags.length > n + 30 ? true : undefined),
      10_000,
    );
    good.close();
    await stopProcess(rc.proc);
  });
});
