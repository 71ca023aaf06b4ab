/**
 * The control plane end to end, as separate processes: redis-server, two control plane replicas,
 * an origin with --publish-auth keys and an edge routed through the control plane.
 *
 * What must hold: a channel made with the CLI publishes with its key and plays by its public
 * name; a wrong key is refused, logged and counted; when the primary publisher dies the edge's
 * viewer switches to the backup (320x240) on the same connection within 3 s, and back to the
 * primary (640x360) after the revert delay; the switches are listed; killing the leader hands
 * leadership to the other replica, which still switches; with every control plane gone, the
 * running stream keeps playing and new viewers still start (registry fallback); health answers
 * SERVING and reflection lists the service.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { parseAvcDecoderConfig, parseSps } from '../media/codec/avc.ts';
import { isVideoSequenceHeader, type MediaTag, TAG_AUDIO, TAG_VIDEO } from '../media/tag.ts';
import { loadProtos } from '../proto/client.ts';
import { assertMonotonic, type FlvRead, openFlv } from './helpers/flv-client.ts';
import {
  CLI,
  killAll,
  NODE,
  type Publisher,
  publish,
  type RelaycastProcess,
  ROOT,
  run,
  startRelaycast,
  waitFor,
} from './helpers/process.ts';
import { type RedisServer, startRedis } from './helpers/redis.ts';

/** Width x height of an AVC sequence header tag, else undefined. */
function avcSize(tag: MediaTag): string | undefined {
  if (tag.type !== TAG_VIDEO || !isVideoSequenceHeader(tag.data) || (tag.data[0]! & 0x0f) !== 7)
    return undefined;
  const cfg = parseAvcDecoderConfig(tag.data.subarray(5));
  const sps = parseSps(cfg.sps[0]!);
  return `${sps.width}x${sps.height}`;
}

interface Viewer {
  read: FlvRead;
  /** Each picture size the viewer was sent, with when it arrived. */
  sizes: { size: string; at: number }[];
  videoFrames: () => number;
}

async function watch(url: string): Promise<Viewer> {
  const sizes: { size: string; at: number }[] = [];
  let frames = 0;
  const read = await openFlv(url, (tag) => {
    const size = avcSize(tag);
    if (size && sizes.at(-1)?.size !== size) sizes.push({ size, at: Date.now() });
    else if (tag.type === TAG_VIDEO) frames++;
  });
  assert.equal(read.status, 200, `viewer ${url} got HTTP ${read.status}`);
  return { read, sizes, videoFrames: () => frames };
}

async function metric(adminPort: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(`${name}{`) && line.includes(labels))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

describe('control plane: channels, backup switching, leader failover, registry fallback', {
  timeout: 300_000,
}, () => {
  let redis: RedisServer;
  let cp1: RelaycastProcess;
  let cp2: RelaycastProcess;
  let origin: RelaycastProcess;
  let edge: RelaycastProcess;
  let keys: { key: string; backupKey: string };
  let primary: Publisher | undefined;
  let backup: Publisher | undefined;
  let viewer: Viewer;
  const common = () => ['--redis-url', redis.url, '--lease-ttl', '2', '--advertise-host', '127.0.0.1'];
  const cli = async (args: string[], cp = cp1) => {
    const r = await run(NODE, [CLI, ...args, '--control-plane', `127.0.0.1:${cp.ports.grpc}`], 30_000);
    return r;
  };
  const rtmp = () => `rtmp://127.0.0.1:${origin.ports.rtmp}/live`;
  const edgeFlv = () => `http://127.0.0.1:${edge.ports.http}/live/studio.flv`;

  before(async () => {
    redis = await startRedis();
    const cpArgs = ['--http-port', '0', '--rtmp-port', '0', '--internal-port', '0'];
    cp1 = await startRelaycast('control-plane', [...common(), '--node-id', 'cp-1', ...cpArgs]);
    await cp1.waitForLog((l) => l.msg === 'became leader');
    cp2 = await startRelaycast('control-plane', [...common(), '--node-id', 'cp-2', ...cpArgs]);
    origin = await startRelaycast('origin', [
      ...common(),
      '--node-id',
      'origin-1',
      '--publish-auth',
      'keys',
      '--http-port',
      '0',
      '--grpc-port',
      '0',
    ]);
    edge = await startRelaycast('edge', [
      ...common(),
      '--node-id',
      'edge-1',
      '--control-plane',
      `127.0.0.1:${cp2.ports.grpc}`,
      '--internal-port',
      '0',
      '--grpc-port',
      '0',
      '--republish-wait',
      '60',
    ]);
  });
  after(async () => {
    viewer?.read.close();
    await killAll();
  });

  it('gRPC health answers SERVING and reflection lists the service', async () => {
    const { proto } = loadProtos();
    const health = new proto.grpc.health.v1.Health(
      `127.0.0.1:${cp1.ports.grpc}`,
      grpc.credentials.createInsecure(),
    );
    const status = await new Promise<string>((resolve, reject) =>
      health.Check({ service: 'relaycast.v1.ControlPlane' }, (err, res) =>
        err ? reject(err) : resolve(String(res?.status)),
      ),
    );
    assert.equal(status, 'SERVING');
    health.close();

    const reflectionProto = join(
      ROOT,
      'node_modules/@grpc/reflection/build/proto/grpc/reflection/v1alpha/reflection.proto',
    );
    const def = grpc.loadPackageDefinition(loadSync(reflectionProto, { keepCase: true }));
    const Reflection = (def.grpc as grpc.GrpcObject).reflection as grpc.GrpcObject;
    const Ctor = (Reflection.v1alpha as grpc.GrpcObject).ServerReflection as grpc.ServiceClientConstructor;
    const client = new Ctor(`127.0.0.1:${cp1.ports.grpc}`, grpc.credentials.createInsecure());
    const services = await new Promise<string[]>((resolve, reject) => {
      const call = (
        client as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<unknown, unknown> }
      ).ServerReflectionInfo();
      call.on('data', (msg: { list_services_response?: { service: { name: string }[] } }) => {
        resolve((msg.list_services_response?.service ?? []).map((s) => s.name));
        call.end();
      });
      call.on('error', reject);
      call.write({ list_services: '*' });
    });
    client.close();
    assert.ok(services.includes('relaycast.v1.ControlPlane'), `reflection lists ${services.join(', ')}`);
    assert.ok(services.includes('grpc.health.v1.Health'));
  });

  it('a channel made with the CLI publishes with its key and plays by its public name; a wrong key is refused', async () => {
    const created = await cli(['channel', 'create', 'studio', '--backup', '--revert-after', '2', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const body = JSON.parse(created.stdout) as { name: string; key: string; backupKey: string };
    assert.equal(body.name, 'studio');
    assert.match(body.key, /^rc_/);
    assert.match(body.backupKey, /^rc_/);
    keys = { key: body.key, backupKey: body.backupKey };

    const again = await cli(['channel', 'create', 'studio']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists.*ALREADY_EXISTS/);

    const list = await cli(['channel', 'list', '--json'], cp2);
    const channels = (JSON.parse(list.stdout) as { channels: { name: string; hasBackup: boolean }[] })
      .channels;
    assert.deepEqual(
      channels.map((c) => [c.name, c.hasBackup]),
      [['studio', true]],
    );
    assert.ok(!list.stdout.includes(keys.key), 'listing never shows keys');

    // wrong key: refused with a clear error in the origin log and a metric
    const bad = await run(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=320x240:rate=10',
        '-t',
        '5',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-f',
        'flv',
        `${rtmp()}/rc_not-a-key`,
      ],
      30_000,
    );
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /unknown stream key/);
    const refused = await origin.waitForLog(
      (l) => l.msg === 'publish refused' && l.code === 'RC_PUBLISH_KEY_INVALID',
    );
    assert.ok(!JSON.stringify(refused).includes('rc_not-a-key'), 'the key is never logged');
    assert.ok((await metric(origin.ports.admin, 'relaycast_auth_failures_total', 'surface="publish"')) >= 1);

    // The primary first: a backup that is live while the primary is not would (rightly) be
    // switched to, and the viewer would start on it until the revert.
    primary = publish(`${rtmp()}/${keys.key}`, { size: '640x360' });
    const livePublishers = async () => {
      const r = await cli(['stream', 'get', 'live/studio', '--json'], cp2);
      return r.code === 0
        ? (JSON.parse(r.stdout) as { publishers: { role: string }[] }).publishers.length
        : 0;
    };
    await waitFor(
      'the primary is registered',
      async () => ((await livePublishers()) === 1 ? true : undefined),
      30_000,
    );
    backup = publish(`${rtmp()}/${keys.backupKey}`, { size: '320x240' });
    await waitFor(
      'both publishers are registered',
      async () => ((await livePublishers()) === 2 ? true : undefined),
      30_000,
    );
    viewer = await watch(edgeFlv());
    await waitFor(
      'the viewer sees the primary (640x360)',
      () => (viewer.sizes.at(-1)?.size === '640x360' && viewer.videoFrames() > 10 ? true : undefined),
      20_000,
    );
    assert.ok(!viewer.sizes.some((s) => s.size === '320x240'), 'the viewer starts on the primary');
  });

  it('kill the primary: the viewer switches to the backup within 3 s on the same connection, and back after the revert delay', async () => {
    const killedAt = Date.now();
    await primary!.stop('SIGKILL');
    const toBackup = await waitFor(
      'the viewer is sent 320x240',
      () => viewer.sizes.find((s) => s.at >= killedAt && s.size === '320x240'),
      15_000,
    );
    const switchMs = toBackup.at - killedAt;
    console.log(`# primary killed → viewer on backup after ${switchMs} ms`);
    assert.ok(switchMs < 3000, `switch took ${switchMs} ms`);
    const framesAtSwitch = viewer.videoFrames();
    await waitFor(
      'backup frames flow',
      () => (viewer.videoFrames() > framesAtSwitch + 30 ? true : undefined),
      15_000,
    );

    const s1 = JSON.parse((await cli(['stream', 'get', 'live/studio', '--json'])).stdout) as {
      activeRole: string;
      switches: { to: string; reason: string; by: string }[];
    };
    assert.equal(s1.activeRole, 'backup');
    assert.equal(s1.switches[0]?.to, 'backup');
    assert.equal(s1.switches[0]?.reason, 'primary-down');
    assert.equal(s1.switches[0]?.by, 'cp-1');

    const restartedAt = Date.now();
    primary = publish(`${rtmp()}/${keys.key}`, { size: '640x360' });
    const back = await waitFor(
      'the viewer is sent 640x360 again',
      () => viewer.sizes.find((s) => s.at > restartedAt && s.size === '640x360'),
      30_000,
    );
    const revertMs = back.at - restartedAt;
    console.log(`# primary restarted → viewer back on primary after ${revertMs} ms (revert delay 2 s)`);
    assert.ok(revertMs >= 2000, `reverted after ${revertMs} ms, before the 2 s revert delay`);
    const s2 = JSON.parse((await cli(['stream', 'get', 'live/studio', '--json'])).stdout) as {
      activeRole: string;
      switches: { to: string; reason: string }[];
    };
    assert.equal(s2.activeRole, 'primary');
    assert.equal(s2.switches[0]?.reason, 'primary-recovered');
    assert.equal(viewer.read.status, 200);
    assertMonotonic(viewer.read.tags, TAG_VIDEO, 'video across switches');
    assertMonotonic(viewer.read.tags, TAG_AUDIO, 'audio across switches');
    assert.ok((await metric(cp1.ports.admin, 'relaycast_backup_switches_total')) >= 2);
  });

  it('a primary that stays connected but sends no media is switched away from (no-media timeout)', async () => {
    const stoppedAt = Date.now();
    primary!.proc.kill('SIGSTOP'); // the TCP connection stays open; no more media
    try {
      const toBackup = await waitFor(
        'the viewer is sent 320x240',
        () => viewer.sizes.find((s) => s.at >= stoppedAt && s.size === '320x240'),
        20_000,
      );
      console.log(
        `# primary frozen → viewer on backup after ${toBackup.at - stoppedAt} ms (no-media timeout 2 s)`,
      );
      assert.ok(toBackup.at - stoppedAt >= 2000, 'not before the no-media timeout');
      const s = JSON.parse((await cli(['stream', 'get', 'live/studio', '--json'])).stdout) as {
        switches: { to: string; reason: string }[];
        publishers: { role: string; stalled: boolean }[];
      };
      assert.deepEqual([s.switches[0]?.to, s.switches[0]?.reason], ['backup', 'primary-stalled']);
      assert.equal(s.publishers.find((p) => p.role === 'primary')?.stalled, true);
    } finally {
      primary!.proc.kill('SIGCONT');
    }
    const resumedAt = Date.now();
    await waitFor(
      'back on the primary once it sends again',
      () => viewer.sizes.find((s) => s.at > resumedAt && s.size === '640x360'),
      30_000,
    );
  });

  it('kill the leader: the other replica takes over and still switches', async () => {
    await cp1.stop('SIGKILL');
    const tookOver = await cp2.waitForLog((l) => l.msg === 'became leader', 15_000);
    console.log(`# leader killed → cp-2 leader at ${String(tookOver.time)}`);
    await waitFor(
      'cp-2 reports leadership',
      async () =>
        (await metric(cp2.ports.admin, 'relaycast_control_plane_leader')) === 1 ? true : undefined,
      10_000,
    );
    const killedAt = Date.now();
    await primary!.stop('SIGKILL');
    await waitFor(
      'the viewer is sent 320x240 again',
      () => viewer.sizes.find((s) => s.at >= killedAt && s.size === '320x240'),
      15_000,
    );
    await waitFor(
      'cp-2 recorded the switch',
      async () => {
        const s = JSON.parse((await cli(['stream', 'get', 'live/studio', '--json'], cp2)).stdout) as {
          activeRole: string;
          switches: { by: string }[];
        };
        return s.activeRole === 'backup' && s.switches[0]?.by === 'cp-2' ? true : undefined;
      },
      10_000,
    );
  });

  it('with every control plane gone, the stream keeps playing and new viewers still start', async () => {
    // A second channel that no edge has pulled yet: after the control planes are gone its route
    // can only come from the registry.
    const made = await cli(['channel', 'create', 'other', '--json'], cp2);
    assert.equal(made.code, 0, made.stderr);
    const otherKey = (JSON.parse(made.stdout) as { key: string }).key;
    const otherPub = publish(`${rtmp()}/${otherKey}`, { size: '320x180', audio: 'none' });
    await waitFor(
      'live/other registered',
      async () => (await cli(['stream', 'get', 'live/other'], cp2)).code === 0 || undefined,
      30_000,
    );

    await cp2.stop('SIGKILL');
    const before = viewer.videoFrames();
    await waitFor(
      'the running viewer keeps receiving',
      () => (viewer.videoFrames() > before + 60 ? true : undefined),
      20_000,
    );
    const second = await watch(edgeFlv());
    await waitFor(
      'a new viewer of the running stream starts',
      () => (second.videoFrames() > 10 ? true : undefined),
      15_000,
    );
    second.read.close();
    const fresh = await watch(`http://127.0.0.1:${edge.ports.http}/live/other.flv`);
    await waitFor(
      'a new viewer of a stream the edge was not pulling starts',
      () => (fresh.videoFrames() > 10 ? true : undefined),
      20_000,
    );
    assert.equal(fresh.sizes[0]?.size, '320x180');
    fresh.read.close();
    assert.ok(
      (await metric(edge.ports.admin, 'relaycast_route_resolutions_total', 'source="registry"')) >= 1,
    );
    assert.equal(await metric(edge.ports.admin, 'relaycast_control_plane_up'), 0);

    const cliDown = await cli(['channel', 'list'], cp2);
    assert.equal(cliDown.code, 1);
    assert.match(cliDown.stderr, /cannot reach the control plane/);
    assert.equal(edge.proc.exitCode, null);
    assert.equal(origin.proc.exitCode, null);
    await otherPub.stop();
    await backup?.stop();
  });
});

describe('all-in-one: the control plane runs in process', { timeout: 120_000 }, () => {
  let aio: RelaycastProcess;
  const TOKEN = 'admin-token-for-tests-0123456789';
  before(async () => {
    aio = await startRelaycast('all', ['--publish-auth', 'keys', '--admin-token', TOKEN]);
  });
  after(async () => {
    await killAll();
  });
  const cli = (args: string[], token?: string) =>
    run(
      NODE,
      [
        CLI,
        ...args,
        '--control-plane',
        `127.0.0.1:${aio.ports.grpc}`,
        ...(token ? ['--admin-token', token] : []),
      ],
      30_000,
    );

  it('admin calls need the admin token over gRPC and REST; a CLI-made key publishes and plays', async () => {
    const denied = await cli(['channel', 'create', 'solo']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /UNAUTHENTICATED/);
    const wrong = await cli(['channel', 'list'], 'not-the-token');
    assert.match(wrong.stderr, /UNAUTHENTICATED/);

    const rest = `http://127.0.0.1:${aio.ports.admin}/api/v1/channels`;
    const noToken = await fetch(rest, { method: 'POST', body: JSON.stringify({ name: 'viarest' }) });
    assert.equal(noToken.status, 401);
    const viaRest = await fetch(rest, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'viarest', backup: true }),
    });
    assert.equal(viaRest.status, 201);
    const restBody = (await viaRest.json()) as {
      key: string;
      backupKey: string;
      channel: { hasBackup: boolean };
    };
    assert.match(restBody.key, /^rc_/);
    assert.equal(restBody.channel.hasBackup, true);

    const made = await cli(['channel', 'create', 'solo', '--json'], TOKEN);
    assert.equal(made.code, 0, made.stderr);
    const { key } = JSON.parse(made.stdout) as { key: string };
    const pub = publish(`rtmp://127.0.0.1:${aio.ports.rtmp}/live/${key}`, { size: '320x240' });
    await waitFor(
      'live/solo is listed',
      async () => {
        const r = await cli(['stream', 'list', '--json'], TOKEN);
        const streams = r.code === 0 ? (JSON.parse(r.stdout) as { streams: { name: string }[] }).streams : [];
        return streams.some((s) => s.name === 'solo') || undefined;
      },
      20_000,
    );
    const v = await watch(`http://127.0.0.1:${aio.ports.http}/live/solo.flv`);
    await waitFor('the viewer gets frames', () => (v.videoFrames() > 10 ? true : undefined), 15_000);
    assert.equal(v.sizes[0]?.size, '320x240');

    const sw = await cli(['stream', 'switch', 'live/solo', '--to', 'backup', '--force'], TOKEN);
    assert.equal(sw.code, 1);
    assert.match(sw.stderr, /live\/solo has no backup.*FAILED_PRECONDITION/);
    const kicked = await cli(['stream', 'kick', 'live/solo', '--json'], TOKEN);
    assert.equal((JSON.parse(kicked.stdout) as { kicked: number }).kicked, 1);
    await waitFor(
      'the publisher is disconnected',
      () => (pub.proc.exitCode !== null ? true : undefined),
      15_000,
    );
    v.read.close();
  });

  it('node list shows the node with its load; node drain makes it refuse new publishers and viewers', async () => {
    const list = await cli(['node', 'list', '--json'], TOKEN);
    assert.equal(list.code, 0, list.stderr);
    const nodes = (JSON.parse(list.stdout) as { nodes: { id: string; role: string; draining: boolean }[] })
      .nodes;
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0]!.role, 'all');
    assert.equal((await fetch(`http://127.0.0.1:${aio.ports.admin}/readyz`)).status, 200);
    const drained = await cli(['node', 'drain', nodes[0]!.id], TOKEN);
    assert.equal(drained.code, 0, drained.stderr);
    await waitFor(
      'readiness goes false',
      async () => (await fetch(`http://127.0.0.1:${aio.ports.admin}/readyz`)).status === 503 || undefined,
    );
    const after = JSON.parse((await cli(['node', 'list', '--json'], TOKEN)).stdout) as {
      nodes: { draining: boolean }[];
    };
    assert.equal(after.nodes[0]?.draining, true);
    const viewer = await fetch(`http://127.0.0.1:${aio.ports.http}/live/solo.flv`);
    assert.equal(viewer.status, 503);
    await viewer.body?.cancel();
    const made = await cli(['channel', 'create', 'late', '--json'], TOKEN);
    const lateKey = (JSON.parse(made.stdout) as { key: string }).key;
    const refused = await run(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=160x120:rate=10',
        '-t',
        '3',
      ].concat([
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-f',
        'flv',
        `rtmp://127.0.0.1:${aio.ports.rtmp}/live/${lateKey}`,
      ]),
      30_000,
    );
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /draining/);
    const unknown = await cli(['node', 'drain', 'no-such-node'], TOKEN);
    assert.match(unknown.stderr, /no live node.*NOT_FOUND/);
  });
});
