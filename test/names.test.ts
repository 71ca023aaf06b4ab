/**
 * Names are checked once, at every entry point, with one rule (core/names.ts): a publisher whose app
 * walks out of --hls-dir is refused before anything touches the disk (before the fix, publishing to
 * app `../victim-app` made the HLS packager write there and delete the directory at unpublish);
 * RTMP play, HTTP paths, the player page and REST refuse `.`/`..` with RC_NAME_INVALID too.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RtmpClient } from '../media/rtmp/client.ts';
import { killAll, type RelaycastProcess, startRelaycast } from './helpers/process.ts';

describe('names: one rule at every entry point', { timeout: 120_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'rc-names-'));
  const hlsDir = join(root, 'hls');
  const victim = join(root, 'victim-app', 'victim');
  let rc: RelaycastProcess;

  before(async () => {
    mkdirSync(victim, { recursive: true });
    writeFileSync(join(victim, 'precious.txt'), 'keep me');
    rc = await startRelaycast('all', ['--hls-dir', hlsDir]);
  });
  after(async () => {
    await killAll();
    rmSync(root, { recursive: true, force: true });
  });

  /** GET with the path as written: fetch() would resolve `%2e%2e` segments away (WHATWG URL). */
  const rawGet = (port: number, path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });

  it('refuses a publish whose app leaves --hls-dir, and nothing outside it is touched', async () => {
    const client = await RtmpClient.open('127.0.0.1', rc.ports.rtmp);
    try {
      await client.connect('../victim-app');
      const sid = await client.createStream();
      await assert.rejects(client.publish(sid, 'victim'), /NetStream\.Publish\.BadName/);
    } finally {
      client.socket.destroy();
    }
    const refused = await rc.waitForLog((l) => l.msg === 'publish refused' && l.code === 'RC_NAME_INVALID');
    assert.ok(refused);
    assert.ok(existsSync(join(victim, 'precious.txt')), 'the directory outside --hls-dir survives');
    assert.deepEqual(readdirSync(root).sort(), existsSync(hlsDir) ? ['hls', 'victim-app'] : ['victim-app']);
  });

  it('refuses RTMP play of `..`', async () => {
    const client = await RtmpClient.open('127.0.0.1', rc.ports.rtmp);
    try {
      await client.connect('live');
      const sid = await client.createStream();
      await assert.rejects(client.play(sid, '..'), /NetStream\.Play\.Failed/);
    } finally {
      client.socket.destroy();
    }
  });

  it('HTTP paths, the player page and REST answer 400 RC_NAME_INVALID', async () => {
    const viewer = `http://127.0.0.1:${rc.ports.http}`;
    for (const path of [
      '/live/%2e%2e.flv',
      '/live/..m3u8',
      '/live/%2E%2E.ts',
      '/play/live/a%20b',
      '/play/live/%3Cscript%3E',
    ]) {
      const res = await rawGet(rc.ports.http, path);
      assert.equal(res.status, 400, path);
      assert.match(res.body, /RC_NAME_INVALID/, path);
    }
    // dot segments in the middle are resolved by URL parsing before routing: they never walk up
    for (const path of ['/%2e%2e/x.m3u8', '/../../x.flv', '/a/.%2e/b/x.flv', '/play/live/%2e%2e']) {
      const res = await rawGet(rc.ports.http, path);
      assert.equal(res.status, 404, path);
    }
    const hostile = encodeURIComponent('</script><script>alert(1)</script>');
    const page = await fetch(`${viewer}/play/live/${hostile}`);
    assert.equal(page.status, 400);
    assert.match(
      page.headers.get('content-type') ?? '',
      /^application\/json/,
      'the refusal is JSON, never HTML',
    );
    const ok = await fetch(`${viewer}/play/live/test`);
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.ok(!(await ok.text()).includes('<script>\n'), 'no inline script');
    const js = await fetch(`${viewer}/_player/player.js`);
    assert.equal(js.status, 200);
    assert.equal((await fetch(`${viewer}/_player/constructor`)).status, 404);
    const rest = await rawGet(rc.ports.admin, '/api/v1/channels/live/a%20b');
    assert.equal(rest.status, 400);
    assert.match(rest.body, /RC_NAME_INVALID/);
  });
});
