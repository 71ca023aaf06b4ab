/**
 * A network partition between an origin and Redis, made with a network namespace. Redis, origin B
 * and an edge run in the host namespace; origin A runs inside its own namespace, reachable only over
 * a veth pair. Cutting the veth isolates A from Redis (and from the edge and its publisher) while A
 * keeps running. What must hold: A's lease lapses, the broadcaster's republish to B takes over, the
 * edge's viewer keeps playing on the same connection with monotonic timestamps, and once the link is
 * back A never registers the stream over B's newer generation and gives up its stale publisher
 * (fencing by generation). No process crashes.
 *
 * Needs root (ip netns, veth); skipped otherwise. Everything it creates (namespace, veth, a private
 * /30 in 10.231.0.0/16) has a pid-based name and is removed in after(), and again on exit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { StreamRecord } from '../core/registry/types.ts';
import { isVideoSequenceHeader, TAG_AUDIO, TAG_VIDEO } from '../media/tag.ts';
import { assertMonotonic, type FlvRead, openFlv } from './helpers/flv-client.ts';
import { ip, mustIp, netnsSkipReason, pickSubnet } from './helpers/netns.ts';
import {
  getJson,
  killAll,
  type Publisher,
  publish,
  type RelaycastProcess,
  startRelaycast,
  stopProcess,
  waitFor,
} from './helpers/process.ts';
import { type RedisServer, startRedis } from './helpers/redis.ts';

const ID = `rcp${process.pid % 100_000}`;
const NS = ID;
const ADMIN_TOKEN = 'partition-admin-token';
const HOST_IF = `${ID}h`; // veth names stay under IFNAMSIZ (15)
const NS_IF = `${ID}n`;
const LEASE_TTL_S = 2;
const STREAM = 'part';
const STREAM_KEY = `relaycast:stream:live/${STREAM}:primary`;

/** Removes the namespace and the veth; safe to call more than once, and with nothing to remove. */
function teardownNetwork(): void {
  if (
    ip('netns', 'list')
      .out.split('\n')
      .some((l) => l.split(' ')[0] === NS)
  )
    ip('netns', 'del', NS);
  if (ip('link', 'show', HOST_IF).ok) ip('link', 'del', HOST_IF);
}

const skip = netnsSkipReason();

describe('network partition between an origin and Redis', { timeout: 240_000, skip: skip ?? false }, () => {
  const { hostIp, nsIp } = skip ? { hostIp: '', nsIp: '' } : pickSubnet(process.pid);
  let redis: RedisServer;
  let originA: RelaycastProcess;
  let originB: RelaycastProcess;
  let edge: RelaycastProcess;
  let probe: Redis;
  let viewer: FlvRead | undefined;
  const onExit = () => teardownNetwork();

  before(async () => {
    process.once('exit', onExit);
    teardownNetwork(); // a leftover from a killed run with the same pid
    mustIp('netns', 'add', NS);
    mustIp('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF, 'netns', NS);
    mustIp('addr', 'add', `${hostIp}/30`, 'dev', HOST_IF);
    mustIp('link', 'set', HOST_IF, 'up');
    mustIp('-n', NS, 'link', 'set', 'lo', 'up');
    mustIp('-n', NS, 'addr', 'add', `${nsIp}/30`, 'dev', NS_IF);
    mustIp('-n', NS, 'link', 'set', NS_IF, 'up');

    redis = await startRedis(undefined, ['127.0.0.1', hostIp]);
    probe = new Redis({ port: redis.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    // Protected mode refuses non-loopback clients without a password; the server listens only on
    // loopback and on the private /30 of our own veth, so lifting it is safe here.
    await probe.config('SET', 'protected-mode', 'no');
    // origin A's admin API is read from outside its namespace: not loopback, so it needs the token
    const common = ['--lease-ttl', String(LEASE_TTL_S), '--admin-token', ADMIN_TOKEN];
    const originArgs = ['--http-port', '0', '--grpc-port', '0'];
    originA = await startRelaycast(
      'origin',
      [
        ...common,
        ...originArgs,
        '--redis-url',
        `redis://${hostIp}:${redis.port}`,
        '--advertise-host',
        nsIp,
        '--node-id',
        'origin-a',
        // keep A's stalled publisher past the partition so the heal meets it (default 20 s)
        '--idle-publisher-timeout',
        '60',
      ],
      {},
      undefined,
      { host: nsIp, prefix: ['ip', 'netns', 'exec', NS] },
    );
    originB = await startRelaycast('origin', [
      ...common,
      ...originArgs,
      '--redis-url',
      redis.url,
      '--advertise-host',
      '127.0.0.1',
      '--node-id',
      'origin-b',
    ]);
    edge = await startRelaycast('edge', [
      ...common,
      '--redis-url',
      redis.url,
      '--node-id',
      'edge-1',
      '--internal-port',
      '0',
      '--grpc-port',
      '0',
    ]);
  });

  after(async () => {
    viewer?.close();
    probe?.disconnect();
    try {
      await redis?.stop('SIGTERM');
    } finally {
      await killAll();
      teardownNetwork();
      process.removeListener('exit', onExit);
    }
  });

  const record = async (): Promise<StreamRecord | undefined> => {
    const v = await probe.get(STREAM_KEY);
    return v ? (JSON.parse(v) as StreamRecord) : undefined;
  };
  const videoFrames = (r: FlvRead) =>
    r.tags.filter((t) => t.type === TAG_VIDEO && !isVideoSequenceHeader(t.data)).length;
  /** Whether A's hub has a live publisher for the stream (throws while A is unreachable). */
  const aStreamLive = async () => {
    const res = await fetch(`http://${nsIp}:${originA.ports.admin}/api/v1/streams`, {
      signal: AbortSignal.timeout(3000),
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const body = (await res.json()) as { streams: { app: string; name: string; live: boolean }[] };
    return body.streams.some((s) => s.app === 'live' && s.name === STREAM && s.live);
  };
  const FENCING = [
    'lease renewal fenced off: newer generation',
    'a newer publish of this stream exists elsewhere: closing ours',
    'taken over by a newer publish',
  ];

  it('A loses its lease while cut off, B takes over, A is fenced off after the heal', async () => {
    // 1. publish to A (inside the namespace) from the host; a viewer on the edge plays it
    const pubA: Publisher = publish(`rtmp://${nsIp}:${originA.ports.rtmp}/live/${STREAM}`, {
      size: '320x240',
    });
    const recA = await waitFor(
      'the stream registered by origin-a',
      async () => {
        const r = await record();
        return r?.originNodeId === 'origin-a' ? r : undefined;
      },
      30_000,
      200,
    );
    assert.equal(recA.originUrl, `http://${nsIp}:${originA.ports.internal}`);
    const read = await openFlv(`http://127.0.0.1:${edge.ports.http}/live/${STREAM}.flv`);
    viewer = read;
    assert.equal(read.status, 200);
    let viewerEnded = false;
    void read.done.then(() => {
      viewerEnded = true;
    });
    await waitFor(
      'the edge viewer receives media from A',
      () => videoFrames(read) >= 30 || undefined,
      30_000,
    );

    // 2. partition: A can reach neither Redis nor anything else on the host
    const aLogsAtCut = originA.logs.length;
    mustIp('link', 'set', HOST_IF, 'down');
    const tCut = Date.now();
    // The broadcaster gives up on A (its connection stalls in the partition).
    await pubA.stop('SIGKILL');

    // 3. A's lease lapses in Redis
    await waitFor(
      "origin-a's lease to expire",
      async () => ((await record())?.originNodeId === 'origin-a' ? undefined : true),
      LEASE_TTL_S * 1000 * 5,
      100,
    );
    const leaseGoneMs = Date.now() - tCut;
    assert.equal(await record(), undefined, 'nothing but A should have held the stream');

    // 4. the broadcaster republishes to B; the same edge viewer continues from B
    const framesBeforeB = videoFrames(read);
    const pubB = publish(`rtmp://127.0.0.1:${originB.ports.rtmp}/live/${STREAM}`, { size: '320x240' });
    const recB = await waitFor(
      'the stream registered by origin-b',
      async () => {
        const r = await record();
        return r?.originNodeId === 'origin-b' ? r : undefined;
      },
      30_000,
      100,
    );
    assert.ok(
      recB.generation > recA.generation,
      `B's generation ${recB.generation} > A's ${recA.generation}`,
    );
    await edge.waitForLog((l) => l.msg === 'pulling from origin' && l.origin === 'origin-b', 30_000);
    const switchedMs = Date.now() - tCut;
    await waitFor(
      'the edge viewer receives media from B',
      () => videoFrames(read) >= framesBeforeB + 60 || undefined,
      30_000,
    );
    const resumedMs = Date.now() - tCut;
    assert.equal(viewerEnded, false, 'the viewer connection stayed open through the failover');
    assertMonotonic(read.tags, TAG_VIDEO, 'video across the failover');
    assertMonotonic(read.tags, TAG_AUDIO, 'audio across the failover');
    const pullsFromB = await getJson<{ pullsServed: number }>(
      `http://127.0.0.1:${originB.ports.admin}/api/v1/pulls`,
      { authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    assert.ok(pullsFromB.body.pullsServed >= 1, 'the edge pulls from B');

    // 5. heal: A must not take the stream back and must not keep serving it
    mustIp('link', 'set', HOST_IF, 'up');
    const tHeal = Date.now();
    await waitFor(
      'origin-a reachable and no longer serving the stream',
      async () => (await aStreamLive()) === false || undefined,
      30_000,
      250,
    );
    const aNotLiveMs = Date.now() - tHeal;
    // Redis keeps naming B with its generation for several lease periods after the heal.
    const watchUntil = Date.now() + LEASE_TTL_S * 1000 * 4;
    let checks = 0;
    while (Date.now() < watchUntil) {
      const r = await record();
      assert.equal(
        r?.originNodeId,
        'origin-b',
        `after the heal the registry names ${r?.originNodeId ?? 'nobody'}`,
      );
      assert.equal(r?.generation, recB.generation);
      checks++;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(await aStreamLive(), false, 'origin-a does not serve the stream after the heal');
    const aLogs = originA.logs.slice(aLogsAtCut);
    const reRegistered = aLogs.filter((l) => l.msg === 'stream registered' && l.stream === `live/${STREAM}`);
    assert.deepEqual(reRegistered, [], 'origin-a registered the stream again');
    // A's publisher session is over: normally A still held it at the heal (the killed publisher's
    // RST was lost in the partition) and fenced itself off on its first renewal; if the
    // publisher's FIN got through first, the session ended without fencing, which is fine too.
    const sessionEnd = aLogs.find((l) => l.msg === 'rtmp session closed');
    assert.ok(sessionEnd, "origin-a's publisher session for the stream did not end");
    const fenced = aLogs.find((l) => FENCING.includes(String(l.msg)));
    if (sessionEnd.reason === 'publication ended: takeover')
      assert.ok(fenced, 'origin-a closed its publisher for a takeover without logging why');
    console.log(
      `partition: A's lease gone ${leaseGoneMs} ms after the cut; edge pulling from B at ${switchedMs} ms, ` +
        `60 frames from B at ${resumedMs} ms; after the heal A had no live stream within ${aNotLiveMs} ms ` +
        `(${fenced ? `fenced: "${fenced.msg}"` : `no fencing needed, its session ended: ${sessionEnd.reason}`}); ` +
        `the registry named B (generation ${recB.generation} > ${recA.generation}) in all ${checks} checks over ` +
        `${LEASE_TTL_S * 4} s`,
    );
    if (process.env.PARTITION_DEBUG) {
      // A's log from the cut on, and every warning of the other processes
      const warnings = (name: string, p: RelaycastProcess) =>
        p.logs
          .filter((l) => ['warn', 'error', 'fatal'].includes(String(l.level)))
          .map((l) => `${name} ${JSON.stringify(l)}`);
      console.log(
        [
          ...aLogs.map((l) => `origin-a ${JSON.stringify(l)}`),
          ...warnings('origin-b', originB),
          ...warnings('edge', edge),
        ].join('\n'),
      );
    }
    // the viewer is still there, still on B, still monotonic; no relaycast process crashed
    const n = read.tags.length;
    await waitFor(
      'the viewer still plays after the heal',
      () => read.tags.length > n + 30 || undefined,
      15_000,
    );
    assert.equal(viewerEnded, false);
    assertMonotonic(read.tags, TAG_VIDEO, 'video after the heal');
    assertMonotonic(read.tags, TAG_AUDIO, 'audio after the heal');
    for (const [name, p] of [
      ['origin-a', originA],
      ['origin-b', originB],
      ['edge', edge],
    ] as const)
      assert.ok(
        p.proc.exitCode === null && p.proc.signalCode === null,
        `${name} exited (${p.proc.exitCode ?? p.proc.signalCode}): ${p.stderr.join('').slice(-2000)}`,
      );
    assert.equal(pubB.proc.exitCode, null, `the publisher to B exited: ${pubB.stderr()}`);
    read.close();
    await stopProcess(pubB.proc, 'SIGKILL');
  });
});
