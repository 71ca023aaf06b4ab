/**
 * ViewerHttpServer driven in memory with inject(): signed play, viewer limits, draining, and an
 * HTTP-FLV viewer's lifecycle. No listener, no port.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createLogger } from '../core/log.ts';
import { createMetrics } from '../core/metrics.ts';
import { signedQuery } from '../core/signing.ts';
import { LocalHubSource } from '../core/sources.ts';
import { inject } from '../core/testing/fake-net.ts';
import { StreamHub } from '../media/hub/hub.ts';
import { TAG_VIDEO } from '../media/tag.ts';
import { type ViewerHttpOptions, ViewerHttpServer } from './viewer-http.ts';

const log = createLogger('silent');
const metrics = createMetrics({ role: 'edge', nodeId: 'e', version: '0', maxStreams: 10 });
const turn = () => new Promise<void>((r) => setImmediate(r));
const codeOf = async (r: { json(): Promise<unknown> }) =>
  ((await r.json()) as { error: { code: string } }).error.code;

function node(options: Partial<ViewerHttpOptions> = {}) {
  const hub = new StreamHub();
  const pub = hub.publish('live', 'cam', { sessionId: 'p', kind: 'test' });
  pub.pushTag(TAG_VIDEO, 0, Buffer.from([0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff]));
  pub.pushTag(TAG_VIDEO, 0, Buffer.from([0x17, 0x01, 0, 0, 0, 0, 1, 2, 3]));
  const server = new ViewerHttpServer(
    new LocalHubSource(hub),
    undefined,
    {
      host: '127.0.0.1',
      port: 0,
      playAuth: 'open',
      playSecrets: [],
      maxViewersPerNode: 0,
      maxViewersPerStream: 0,
      maxConnectionsPerIp: 0,
      listStreams: async () => [],
      viewerCount: () => hub.viewerCount(),
      ...options,
    },
    metrics,
    log,
  );
  return { hub, server, stream: hub.get('live', 'cam')! };
}

describe('ViewerHttpServer in memory', () => {
  it('an HTTP-FLV viewer gets the GOP; the client leaving closes it as client-gone', async () => {
    const { hub, server, stream } = node();
    const res = await inject(server.server, { url: '/live/cam.flv' });
    assert.equal(res.status, 200);
    const [viewer] = [...stream.viewers];
    assert.ok(viewer);
    const first = await new Promise<Buffer>((r) => res.res.once('data', r));
    assert.equal(first.subarray(0, 3).toString(), 'FLV');
    res.close();
    for (let i = 0; i < 50 && !viewer.closed; i++) await turn();
    assert.equal(viewer.closeReason, 'client-gone');
    assert.equal(stream.viewers.size, 0);
    hub.close();
  });

  it('signed play: missing and bad signatures are 403 with their code, a valid one plays', async () => {
    const { hub, server } = node({ playAuth: 'signed', playSecrets: ['k1'] });
    const missing = await inject(server.server, { url: '/live/cam.flv' });
    assert.equal(missing.status, 403);
    assert.equal(await codeOf(missing), 'RC_PLAY_SIGNATURE_MISSING');
    const bad = await inject(server.server, {
      url: `/live/cam.flv?${signedQuery('other', 'live', 'cam', 60)}`,
    });
    assert.equal(bad.status, 403);
    assert.equal(await codeOf(bad), 'RC_PLAY_SIGNATURE_INVALID');
    const ok = await inject(server.server, { url: `/live/cam.flv?${signedQuery('k1', 'live', 'cam', 60)}` });
    assert.equal(ok.status, 200);
    ok.close();
    hub.close();
  });

  it('--play-bind-ip: an unbound token is refused; a bound one plays only from its own address', async () => {
    const { hub, server } = node({ playAuth: 'signed', playSecrets: ['k1'], playBindIp: true });
    const unbound = await inject(server.server, {
      url: `/live/cam.flv?${signedQuery('k1', 'live', 'cam', 60)}`,
    });
    assert.equal(unbound.status, 403);
    assert.equal(await codeOf(unbound), 'RC_PLAY_SIGNATURE_INVALID');
    const url = `/live/cam.flv?${signedQuery('k1', 'live', 'cam', 60, '10.1.2.3')}`;
    const elsewhere = await inject(server.server, { url, remoteAddress: '10.9.9.9' });
    assert.equal(elsewhere.status, 403);
    const own = await inject(server.server, { url, remoteAddress: '10.1.2.3' });
    assert.equal(own.status, 200);
    own.close();
    hub.close();
  });

  it('limits answer 503 RC_VIEWER_LIMIT, draining 503 RC_NODE_DRAINING (undone by resumeAccepting); a stream that is not live is 404', async () => {
    const { hub, server } = node({ maxViewersPerStream: 1 });
    const first = await inject(server.server, { url: '/live/cam.flv' });
    assert.equal(first.status, 200);
    const second = await inject(server.server, { url: '/live/cam.flv' });
    assert.equal(second.status, 503);
    assert.equal(await codeOf(second), 'RC_VIEWER_LIMIT');
    const notLive = await inject(server.server, { url: '/live/none.flv' });
    assert.equal(notLive.status, 404);
    assert.equal(await codeOf(notLive), 'RC_PLAY_NOT_FOUND');
    server.stopAccepting();
    const draining = await inject(server.server, { url: '/live/cam.flv' });
    assert.equal(draining.status, 503);
    assert.equal(await codeOf(draining), 'RC_NODE_DRAINING');
    first.close();
    server.resumeAccepting();
    // the closed viewer leaves the stream's one place free once its close is processed
    for (let i = 0; i < 100 && (hub.get('live', 'cam')?.viewers.size ?? 0) > 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    const back = await inject(server.server, { url: '/live/cam.flv' });
    assert.equal(back.status, 200);
    back.close();
    hub.close();
  });

  it('CORS preflight and methods', async () => {
    const { hub, server } = node();
    const pre = await inject(server.server, { method: 'OPTIONS', url: '/live/cam.flv' });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    const post = await inject(server.server, { method: 'POST', url: '/live/cam.flv', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(await codeOf(post), 'RC_BAD_REQUEST');
    hub.close();
  });
});

describe('WHEP under --workers: the worker relays, the main thread trusts only its token', () => {
  it('the loopback server takes the relayed viewer address only with the right token', async () => {
    const { hub, server } = node({
      playAuth: 'signed',
      playSecrets: ['k1'],
      playBindIp: true,
      trustedClient: { token: 't0k' },
    });
    const url = `/live/cam.flv?${signedQuery('k1', 'live', 'cam', 60, '10.9.9.9')}`;
    const relayed = await inject(server.server, { url, headers: { 'x-relaycast-client': 't0k 10.9.9.9' } });
    assert.equal(relayed.status, 200);
    relayed.close();
    // a forged header (wrong token) leaves the socket's own address, which the token is not bound to
    const forged = await inject(server.server, { url, headers: { 'x-relaycast-client': 'nope 10.9.9.9' } });
    assert.equal(forged.status, 403);
    assert.equal(await codeOf(forged), 'RC_PLAY_SIGNATURE_INVALID');
    hub.close();
  });

  it('a worker relays method, path, query, offer, Content-Type, Authorization and the viewer address; the answer comes back unchanged', async () => {
    const seen: { method?: string; url?: string; headers: Record<string, unknown>; body: string }[] = [];
    let answer = { status: 201, type: 'application/sdp', body: 'v=0\r\nanswer\r\n' };
    const main = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        body += c;
      });
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        res.writeHead(answer.status, {
          'Content-Type': answer.type,
          ...(answer.status === 201 ? { Location: `/live/cam/whep/${'a'.repeat(24)}` } : {}),
          'X-Not-Relayed': '1',
        });
        res.end(answer.body);
      });
    });
    await new Promise<void>((r) => main.listen(0, '127.0.0.1', r));
    const port = (main.address() as AddressInfo).port;
    const { hub, server } = node({ whepProxy: { url: `http://127.0.0.1:${port}`, token: 't0k' } });
    try {
      const posted = await inject(server.server, {
        method: 'POST',
        url: '/live/cam/whep?expires=1&sig=ab',
        headers: {
          'content-type': 'application/sdp',
          authorization: 'Bearer xyz',
          'x-relaycast-client': 't0k 6.6.6.6',
        },
        body: 'v=0\r\noffer\r\n',
        remoteAddress: '192.0.2.7',
      });
      assert.equal(posted.status, 201);
      assert.equal(posted.headers.location, `/live/cam/whep/${'a'.repeat(24)}`);
      assert.equal(posted.headers['content-type'], 'application/sdp');
      assert.equal(posted.headers['access-control-allow-origin'], '*');
      assert.equal(posted.headers['x-not-relayed'], undefined);
      assert.equal(await posted.text(), 'v=0\r\nanswer\r\n');
      const got = seen[0]!;
      assert.equal(got.method, 'POST');
      assert.equal(got.url, '/live/cam/whep?expires=1&sig=ab');
      assert.equal(got.body, 'v=0\r\noffer\r\n');
      assert.equal(got.headers['content-type'], 'application/sdp');
      assert.equal(got.headers.authorization, 'Bearer xyz');
      // the viewer's own header is replaced, never passed on
      assert.equal(got.headers['x-relaycast-client'], 't0k 192.0.2.7');

      answer = {
        status: 404,
        type: 'application/json',
        body: '{"error":{"code":"RC_WEBRTC_SESSION_NOT_FOUND"}}',
      };
      const deleted = await inject(server.server, {
        method: 'DELETE',
        url: `/live/cam/whep/${'b'.repeat(24)}`,
      });
      assert.equal(deleted.status, 404);
      assert.equal(await codeOf(deleted), 'RC_WEBRTC_SESSION_NOT_FOUND');
      assert.equal(seen[1]!.method, 'DELETE');
      assert.equal(seen[1]!.url, `/live/cam/whep/${'b'.repeat(24)}`);

      // preflights are answered by the worker itself
      const pre = await inject(server.server, { method: 'OPTIONS', url: '/live/cam/whep' });
      assert.equal(pre.status, 204);
      assert.equal(seen.length, 2);
    } finally {
      await new Promise<void>((r) => main.close(() => r()));
    }
    // the main thread gone: 503 with the code, not a hang or a 500
    const down = await inject(server.server, {
      method: 'POST',
      url: '/live/cam/whep',
      headers: { 'content-type': 'application/sdp' },
      body: 'v=0\r\n',
    });
    assert.equal(down.status, 503);
    assert.equal(await codeOf(down), 'RC_WEBRTC_UNAVAILABLE');
    hub.close();
  });
});
