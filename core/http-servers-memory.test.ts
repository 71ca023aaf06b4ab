/**
 * AdminHttpServer and InternalHttpServer driven in memory with inject(): no listener, no port.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StreamHub } from '../media/hub/hub.ts';
import { TAG_VIDEO } from '../media/tag.ts';
import { AdminHttpServer } from './admin-http.ts';
import { InternalHttpServer } from './internal-http.ts';
import { createLogger } from './log.ts';
import { createMetrics } from './metrics.ts';
import { LocalHubSource } from './sources.ts';
import { inject } from './testing/fake-net.ts';

const log = createLogger('silent');
const metrics = createMetrics({ role: 'test', nodeId: 't', version: '0', maxStreams: 10 });
const VIDEO_SEQ = Buffer.from([0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff]);
const KEY = Buffer.from([0x17, 0x01, 0, 0, 0, 0, 1, 2, 3]);
const errorCodeOf = async (r: { json(): Promise<unknown> }) =>
  ((await r.json()) as { error: { code: string } }).error.code;

describe('AdminHttpServer in memory', () => {
  const admin = (adminToken?: string) => {
    const a = new AdminHttpServer({ host: '127.0.0.1', port: 0, adminToken }, metrics, log);
    a.route('POST', '/api/v1/things/:id', async ({ params, body }) => ({
      status: 201,
      body: { id: params.id, got: await body() },
    }));
    a.route('GET', '/api/v1/things', async () => ({ body: { things: [] } }));
    return a;
  };

  it('with a token: no token or a wrong one is 401 RC_ADMIN_UNAUTHORIZED, the right one passes', async () => {
    const a = admin('s3cret');
    const none = await inject(a.server, { url: '/api/v1/things' });
    assert.equal(none.status, 401);
    assert.equal(await errorCodeOf(none), 'RC_ADMIN_UNAUTHORIZED');
    const wrong = await inject(a.server, {
      url: '/api/v1/things',
      headers: { authorization: 'Bearer nope' },
    });
    assert.equal(wrong.status, 401);
    await wrong.text();
    const ok = await inject(a.server, {
      method: 'POST',
      url: '/api/v1/things/a%2Fb',
      headers: { authorization: 'Bearer s3cret', 'content-type': 'application/json' },
      body: '{"x":1}',
    });
    assert.equal(ok.status, 201);
    assert.deepEqual(await ok.json(), { id: 'a/b', got: { x: 1 } });
  });

  it('without a token: only this machine (loopback client, localhost or IP Host) may call the API', async () => {
    const a = admin();
    const remoteRead = await inject(a.server, { url: '/api/v1/things', remoteAddress: '203.0.113.7' });
    assert.equal(remoteRead.status, 401, 'publisher addresses are not readable from elsewhere');
    assert.equal(await errorCodeOf(remoteRead), 'RC_ADMIN_UNAUTHORIZED');
    const remoteWrite = await inject(a.server, {
      method: 'POST',
      url: '/api/v1/things/x',
      remoteAddress: '203.0.113.7',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(remoteWrite.status, 401);
    await remoteWrite.text();
    // DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1
    const rebound = await inject(a.server, {
      method: 'POST',
      url: '/api/v1/things/x',
      remoteAddress: '127.0.0.1',
      headers: { host: 'evil.example:9090', 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(rebound.status, 403);
    assert.equal(await errorCodeOf(rebound), 'RC_ADMIN_HOST_REFUSED');
    const reboundRead = await inject(a.server, { url: '/api/v1/things', headers: { host: 'evil.example' } });
    assert.equal(reboundRead.status, 403);
    await reboundRead.text();
    // CSRF: a cross-site form posts without a preflight, so never as application/json
    const form = await inject(a.server, {
      method: 'POST',
      url: '/api/v1/things/x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1',
    });
    assert.equal(form.status, 415);
    assert.equal(await errorCodeOf(form), 'RC_ADMIN_CONTENT_TYPE');
    const noType = await inject(a.server, { method: 'POST', url: '/api/v1/things/x', body: '{}' });
    assert.equal(noType.status, 415);
    await noType.text();
    for (const host of ['127.0.0.1:9090', 'localhost', '[::1]:9090']) {
      const local = await inject(a.server, {
        method: 'POST',
        url: '/api/v1/things/x',
        remoteAddress: '::ffff:127.0.0.1',
        headers: { host, 'content-type': 'application/json; charset=utf-8' },
        body: '{}',
      });
      assert.equal(local.status, 201, host);
      assert.equal(local.headers['access-control-allow-origin'], undefined, 'admin sends no CORS');
      await local.text();
    }
    const preflight = await inject(a.server, { method: 'OPTIONS', url: '/api/v1/things/x' });
    assert.equal(preflight.headers['access-control-allow-origin'], undefined);
    assert.equal(preflight.headers['access-control-allow-methods'], undefined);
    await preflight.text();
  });

  it('with a token: any Host and address, as long as the token is right', async () => {
    const a = admin('s3cret');
    const ok = await inject(a.server, {
      url: '/api/v1/things',
      remoteAddress: '203.0.113.7',
      headers: { host: 'relaycast.example.com', authorization: 'Bearer s3cret' },
    });
    assert.equal(ok.status, 200);
    await ok.text();
  });

  it('health, readiness and unknown routes', async () => {
    const a = admin();
    let ready = true;
    a.readiness.push({ name: 'accepting', check: () => ready });
    assert.equal((await inject(a.server, { url: '/healthz' })).status, 200);
    assert.equal((await inject(a.server, { url: '/readyz' })).status, 200);
    ready = false;
    const notReady = await inject(a.server, { url: '/readyz' });
    assert.equal(notReady.status, 503);
    assert.deepEqual(((await notReady.json()) as { failing: string[] }).failing, ['accepting']);
    const missing = await inject(a.server, { url: '/api/v1/nope' });
    assert.equal(missing.status, 404);
    assert.equal(await errorCodeOf(missing), 'RC_NOT_FOUND');
  });
});

describe('InternalHttpServer in memory', () => {
  const internal = (clusterToken?: string) => {
    const hub = new StreamHub();
    const server = new InternalHttpServer(
      hub,
      new LocalHubSource(hub),
      undefined,
      { host: '127.0.0.1', port: 0, clusterToken },
      metrics,
      log,
    );
    return { hub, server };
  };

  it('needs the cluster token when one is set (header or ?token=)', async () => {
    const { server } = internal('cluster-secret');
    const none = await inject(server.server, { url: '/_streams' });
    assert.equal(none.status, 401);
    assert.equal(await errorCodeOf(none), 'RC_CLUSTER_UNAUTHORIZED');
    const header = await inject(server.server, {
      url: '/_streams',
      headers: { authorization: 'Bearer cluster-secret' },
    });
    assert.equal(header.status, 200);
    await header.text();
    const query = await inject(server.server, { url: '/_streams?token=cluster-secret' });
    assert.equal(query.status, 200);
    await query.text();
  });

  it('an edge pull of a live stream is an FLV viewer (protocol pull) that ends with the stream', async () => {
    const { hub, server } = internal();
    const pub = hub.publish('live', 'cam', { sessionId: 'p', kind: 'test' });
    pub.pushTag(TAG_VIDEO, 0, VIDEO_SEQ);
    pub.pushTag(TAG_VIDEO, 0, KEY);
    const missing = await inject(server.server, { url: '/live/other.flv' });
    assert.equal(missing.status, 404);
    assert.equal(await errorCodeOf(missing), 'RC_PLAY_NOT_FOUND');
    const res = await inject(server.server, { url: '/live/cam.flv' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'video/x-flv');
    const body = res.text();
    const stream = hub.get('live', 'cam')!;
    assert.equal(stream.viewers.size, 1);
    const [viewer] = [...stream.viewers];
    assert.equal(viewer?.protocol, 'pull');
    assert.equal(server.pullsServed, 1);
    stream.close('stream-ended');
    assert.ok((await body).startsWith('FLV'), 'the FLV header, then the cached GOP');
    assert.equal(viewer?.closeReason, 'stream-ended');
  });
});
