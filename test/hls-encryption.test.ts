/**
 * Encrypted HLS (AES-128) in the all-in-one: ffmpeg plays a signed encrypted playlist, a segment
 * alone is not decodable, keys need a valid token, are not cached, are rate-limited, rotate.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signedQuery } from '../core/signing.ts';
import { launchChromium, noChromium, watchPlayback } from './helpers/browser.ts';
import { killAll, publish, type RelaycastProcess, run, startRelaycast, waitFor } from './helpers/process.ts';
import { type RedisServer, startRedis } from './helpers/redis.ts';

const SECRET = 'hls-encryption-secret-0123456789';
const BAD_DECODE = /error|continuity|non-monoton|invalid|corrupt|missing picture|decode_slice/i;

/** hls.js on the player page plays `url` in Chromium for 5 s: time advances, no error, keys 200. */
async function assertChromiumPlays(url: string): Promise<void> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    const keyStatuses: number[] = [];
    page.on('response', (r) => {
      if (r.url().includes('/keys/')) keyStatuses.push(r.status());
    });
    await page.goto(url);
    const played = await watchPlayback(page, 3, 0, 60_000);
    const state = (await page.evaluate('({ errors: [...window.relaycastPlayer.errors] })')) as {
      errors: string[];
    };
    assert.deepEqual(state.errors, []);
    assert.deepEqual(pageErrors, []);
    assert.ok(played.advanced > 3, `currentTime advanced only ${played.advanced} s`);
    assert.ok(
      keyStatuses.length >= 1 && keyStatuses.every((st) => st === 200),
      `key responses ${keyStatuses}`,
    );
  } finally {
    await browser.close();
  }
}

describe('encrypted HLS (AES-128)', { timeout: 300_000 }, () => {
  let rc: RelaycastProcess;
  const work = mkdtempSync(join(tmpdir(), 'relaycast-hls-enc-'));
  before(async () => {
    rc = await startRelaycast('all', [
      '--play-auth',
      'signed',
      '--play-secret',
      SECRET,
      '--hls-encryption',
      'aes-128',
      '--hls-key-rotation',
      '2',
    ]);
    publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/enc`, { size: '640x360', rate: 30, gop: 30 });
  });
  after(async () => {
    await killAll();
    rmSync(work, { recursive: true, force: true });
  });
  const base = () => `http://127.0.0.1:${rc.ports.http}/live`;
  const token = () => signedQuery(SECRET, 'live', 'enc', 300);
  const keyLines = (text: string) => text.split('\n').filter((l) => l.startsWith('#EXT-X-KEY:'));
  const waitPlaylist = (minKeys: number) =>
    waitFor(
      `a playlist with ${minKeys} key ids`,
      async () => {
        const res = await fetch(`${base()}/enc.ts.m3u8?${token()}`);
        if (res.status !== 200) return undefined;
        const text = await res.text();
        const ids = new Set(keyLines(text).map((l) => /\/keys\/(\d+)/.exec(l)?.[1]));
        return ids.size >= minKeys ? text : undefined;
      },
      60_000,
      250,
    );

  it('the playlist carries an EXT-X-KEY with a per-segment IV and the viewer token before every segment; keys rotate', async () => {
    const text = await waitPlaylist(2);
    const segments = text.split('\n').filter((l) => l && !l.startsWith('#'));
    const keys = keyLines(text);
    assert.equal(keys.length, segments.length);
    for (const k of keys)
      assert.match(
        k,
        /^#EXT-X-KEY:METHOD=AES-128,URI="enc\/keys\/\d+\?expires=\d+&sig=[0-9a-f]{64}",IV=0x[0-9a-f]{32}$/,
      );
    assert.equal(
      new Set(keys.map((k) => /IV=(0x[0-9a-f]+)/.exec(k)![1])).size,
      keys.length,
      'one IV per segment',
    );
    // rotation every 2 segments: each key id is used by at most 2 segments
    const uses = new Map<string, number>();
    for (const k of keys) {
      const id = /\/keys\/(\d+)/.exec(k)![1]!;
      uses.set(id, (uses.get(id) ?? 0) + 1);
    }
    assert.ok(
      [...uses.values()].every((n) => n <= 2),
      JSON.stringify([...uses]),
    );
  });

  it('ffmpeg plays the signed encrypted playlist without a decode error, across key rotations', async () => {
    await waitPlaylist(2);
    const dec = await run(
      'ffmpeg',
      ['-v', 'warning', '-i', `${base()}/enc.ts.m3u8?${token()}`, '-t', '6', '-f', 'null', '-'],
      90_000,
    );
    assert.equal(dec.code, 0, dec.stderr);
    assert.doesNotMatch(dec.stderr, BAD_DECODE, dec.stderr);
  });

  it('a segment fetched alone is not decodable: ffprobe finds no stream in it', async () => {
    const text = await waitPlaylist(1);
    const uri = text.split('\n').find((l) => l && !l.startsWith('#'))!;
    const res = await fetch(`${base()}/${uri}`);
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    assert.notEqual(body[0], 0x47, 'not a clear MPEG-TS sync byte');
    assert.equal(body.length % 16, 0);
    const file = join(work, 'alone.ts');
    writeFileSync(file, body);
    const probe = await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file], 30_000);
    const streams = probe.code === 0 ? (JSON.parse(probe.stdout) as { streams: unknown[] }).streams : [];
    assert.equal(streams.length, 0, probe.stdout);
  });

  it('keys: 200 no-store with a token; 403 with a reason code without, expired or forged; 404 for unknown ids', async () => {
    const text = await waitPlaylist(1);
    const keyUri = /URI="([^"]+)"/.exec(keyLines(text)[0]!)![1]!;
    const ok = await fetch(`${base()}/${keyUri}`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    assert.equal(Buffer.from(await ok.arrayBuffer()).length, 16);
    const bare = keyUri.split('?')[0]!;
    const code = async (url: string) => {
      const res = await fetch(url);
      return { status: res.status, body: await res.text() };
    };
    const missing = await code(`${base()}/${bare}`);
    assert.equal(missing.status, 403);
    assert.match(missing.body, /RC_PLAY_SIGNATURE_MISSING/);
    // the right token with its last signature digit changed
    const forgedToken = token().replace(
      /sig=([0-9a-f]+)/,
      (_m, sig: string) => `sig=${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`,
    );
    const forged = await code(`${base()}/${bare}?${forgedToken}`);
    assert.equal(forged.status, 403);
    assert.match(forged.body, /RC_PLAY_SIGNATURE_INVALID/);
    const expired = await code(`${base()}/${bare}?${signedQuery(SECRET, 'live', 'enc', -10)}`);
    assert.equal(expired.status, 403);
    assert.match(expired.body, /RC_PLAY_SIGNATURE_EXPIRED/);
    const otherStream = await code(`${base()}/${bare}?${signedQuery(SECRET, 'live', 'other', 300)}`);
    assert.equal(otherStream.status, 403, 'a token for another stream does not open this key');
    // tokens bound to the viewer's address (&ip=1): the right address opens the key, another does not
    const bound = await fetch(`${base()}/${bare}?${signedQuery(SECRET, 'live', 'enc', 300, '127.0.0.1')}`);
    assert.equal(bound.status, 200);
    const elsewhere = await code(`${base()}/${bare}?${signedQuery(SECRET, 'live', 'enc', 300, '10.9.9.9')}`);
    assert.equal(elsewhere.status, 403);
    assert.match(elsewhere.body, /RC_PLAY_SIGNATURE_INVALID/);
    const unknown = await code(`${base()}/enc/keys/1?${token()}`);
    assert.equal(unknown.status, 404);
  });

  it('hls.js in Chromium plays the encrypted stream from the signed player page', {
    skip: noChromium,
  }, async () => {
    await waitPlaylist(2);
    await assertChromiumPlays(`http://127.0.0.1:${rc.ports.http}/play/live/enc?mode=hls&${token()}`);
  });

  it('LL-HLS (ll.m3u8): parts and segments under per-segment keys ids l<seq>; ffmpeg plays it; a part alone is not decodable', async () => {
    const text = await waitFor(
      'an encrypted LL-HLS playlist with two keys',
      async () => {
        const res = await fetch(`${base()}/enc/ll.m3u8?${token()}`);
        if (res.status !== 200) return undefined;
        const body = await res.text();
        return new Set(body.match(/keys\/l\d+/g) ?? []).size >= 2 ? body : undefined;
      },
      60_000,
      250,
    );
    for (const k of keyLines(text))
      assert.match(
        k,
        /^#EXT-X-KEY:METHOD=(NONE|AES-128,URI="keys\/l\d+\?expires=\d+&sig=[0-9a-f]{64}",IV=0x[0-9a-f]{32})$/,
      );
    const part = /#EXT-X-PART:[^\n]*URI="([^"]+)"/.exec(text)![1]!;
    const body = Buffer.from(await (await fetch(`${base()}/enc/${part}`)).arrayBuffer());
    assert.equal(body.length % 16, 0);
    assert.notEqual(body.subarray(4, 8).toString('latin1'), 'moof', 'not a clear fragment');
    const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(text)![1]!;
    const file = join(work, 'part-alone.mp4');
    writeFileSync(
      file,
      Buffer.concat([Buffer.from(await (await fetch(`${base()}/enc/${init}`)).arrayBuffer()), body]),
    );
    const probe = await run(
      'ffprobe',
      ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', file],
      30_000,
    );
    const frames =
      probe.code === 0
        ? (JSON.parse(probe.stdout) as { streams: { nb_read_frames?: string }[] }).streams.reduce(
            (n, st) => n + Number(st.nb_read_frames ?? 0),
            0,
          )
        : 0;
    assert.equal(frames, 0, 'the clear init segment and an encrypted part decode to no frame');
    const key = await fetch(`${base()}/enc/keys/${/keys\/(l\d+)/.exec(text)![1]}`);
    assert.equal(key.status, 403, 'LL-HLS keys need the token too');
    const dec = await run(
      'ffmpeg',
      ['-v', 'warning', '-i', `${base()}/enc/ll.m3u8?${token()}`, '-t', '6', '-f', 'null', '-'],
      90_000,
    );
    assert.equal(dec.code, 0, dec.stderr);
    assert.doesNotMatch(dec.stderr, BAD_DECODE, dec.stderr);
  });

  it('hls.js in Chromium plays the encrypted LL-HLS stream (parts decrypted) from the signed player page', {
    skip: noChromium,
  }, async () => {
    await waitPlaylist(2);
    await assertChromiumPlays(`http://127.0.0.1:${rc.ports.http}/play/live/enc?mode=llhls&${token()}`);
  });

  it('brute force is rate-limited (429) and counted', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++)
      statuses.push((await fetch(`${base()}/enc/keys/${i}?expires=1&sig=00`)).status);
    assert.ok(statuses.includes(429), statuses.join(','));
    const metrics = await (await fetch(`http://127.0.0.1:${rc.ports.admin}/metrics`)).text();
    assert.match(
      metrics,
      /relaycast_hls_requests_total\{[^}]*kind="key"[^}]*result="rate_limited"[^}]*\} [1-9]/,
    );
  });
});

describe('encrypted HLS through an edge (redis + origin + edge)', { timeout: 300_000 }, () => {
  let redis: RedisServer;
  let edge: RelaycastProcess;
  let origin: RelaycastProcess;
  let originB: RelaycastProcess;
  before(async () => {
    redis = await startRedis();
    const common = [
      '--redis-url',
      redis.url,
      '--lease-ttl',
      '2',
      '--advertise-host',
      '127.0.0.1',
      '--cluster-token',
      'cluster-token-enc',
    ];
    originB = await startRelaycast('origin', [
      ...common,
      '--node-id',
      'origin-enc-b',
      '--http-port',
      '0',
      '--grpc-port',
      '0',
      '--hls-encryption',
      'aes-128',
      '--hls-key-rotation',
      '2',
    ]);
    origin = await startRelaycast('origin', [
      ...common,
      '--node-id',
      'origin-enc',
      '--http-port',
      '0',
      '--grpc-port',
      '0',
      '--hls-encryption',
      'aes-128',
      '--hls-key-rotation',
      '2',
    ]);
    edge = await startRelaycast('edge', [
      ...common,
      '--node-id',
      'edge-enc',
      '--internal-port',
      '0',
      '--grpc-port',
      '0',
      '--play-auth',
      'signed',
      '--play-secret',
      SECRET,
    ]);
    publish(`rtmp://127.0.0.1:${origin.ports.rtmp}/live/cenc`, { size: '640x360', rate: 30, gop: 30 });
  });
  after(async () => {
    await killAll();
    await redis?.stop();
  });

  it('the edge serves keys from the registry to signed viewers only, and ffmpeg plays through it', async () => {
    const base = `http://127.0.0.1:${edge.ports.http}/live`;
    const token = () => signedQuery(SECRET, 'live', 'cenc', 300);
    const text = await waitFor(
      'an encrypted playlist with two keys at the edge',
      async () => {
        const res = await fetch(`${base}/cenc.ts.m3u8?${token()}`);
        if (res.status !== 200) return undefined;
        const body = await res.text();
        return new Set(body.match(/\/keys\/\d+/g) ?? []).size >= 2 ? body : undefined;
      },
      60_000,
      250,
    );
    const keyUri = /#EXT-X-KEY:METHOD=AES-128,URI="([^"]+)"/.exec(text)![1]!;
    assert.match(keyUri, /^cenc\/keys\/\d+\?expires=\d+&sig=[0-9a-f]{64}$/);
    const ok = await fetch(`${base}/${keyUri}`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    assert.equal(Buffer.from(await ok.arrayBuffer()).length, 16);
    const refused = await fetch(`${base}/${keyUri.split('?')[0]}`);
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /RC_PLAY_SIGNATURE_MISSING/);
    const dec = await run(
      'ffmpeg',
      ['-v', 'warning', '-i', `${base}/cenc.ts.m3u8?${token()}`, '-t', '6', '-f', 'null', '-'],
      90_000,
    );
    assert.equal(dec.code, 0, dec.stderr);
    assert.doesNotMatch(dec.stderr, BAD_DECODE, dec.stderr);
  });

  it('hls.js in Chromium plays the encrypted stream through the edge', {
    skip: noChromium,
  }, async () => {
    const token = signedQuery(SECRET, 'live', 'cenc', 300);
    await assertChromiumPlays(`http://127.0.0.1:${edge.ports.http}/play/live/cenc?mode=hls&${token}`);
  });

  it('hls.js in Chromium plays the encrypted LL-HLS stream through the edge', {
    skip: noChromium,
  }, async () => {
    const token = signedQuery(SECRET, 'live', 'cenc', 300);
    const ll = await fetch(`http://127.0.0.1:${edge.ports.http}/live/cenc/ll.m3u8?${token}`);
    assert.equal(ll.status, 200);
    assert.match(await ll.text(), /#EXT-X-KEY:METHOD=AES-128,URI="keys\/l\d+\?expires=/);
    await assertChromiumPlays(`http://127.0.0.1:${edge.ports.http}/play/live/cenc?mode=llhls&${token}`);
  });

  it('after the origin dies, the stream goes on from origin B with new keys; the old keys stay served; ffmpeg decodes it', async () => {
    const base = `http://127.0.0.1:${edge.ports.http}/live`;
    const token = () => signedQuery(SECRET, 'live', 'cenc', 300);
    const idsOf = (t: string) => new Set(t.match(/\/keys\/\d+/g) ?? []);
    const before = await (await fetch(`${base}/cenc.ts.m3u8?${token()}`)).text();
    await origin.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 1000)); // the broadcaster notices and reconnects
    publish(`rtmp://127.0.0.1:${originB.ports.rtmp}/live/cenc`, { size: '640x360', rate: 30, gop: 30 });
    const after = await waitFor(
      'the edge playlist from origin B, with a discontinuity and its own keys',
      async () => {
        const res = await fetch(`${base}/cenc.ts.m3u8?${token()}`);
        const text = res.ok ? await res.text() : '';
        const fresh = [...idsOf(text)].filter((id) => !idsOf(before).has(id));
        return /#EXT-X-DISCONTINUITY\n/.test(text) && fresh.length >= 1 ? text : undefined;
      },
      60_000,
      250,
    );
    // every key the playlist names is served, the dead origin's too (they live in Redis)
    for (const [, uri] of after.matchAll(/URI="([^"]+)"/g))
      assert.equal((await fetch(`${base}/${uri}`)).status, 200, uri);
    const after2 = await run(
      'ffmpeg',
      ['-v', 'warning', '-i', `${base}/cenc.ts.m3u8?${token()}`, '-t', '4', '-f', 'null', '-'],
      90_000,
    );
    assert.equal(after2.code, 0, after2.stderr);
    assert.doesNotMatch(after2.stderr, BAD_DECODE, after2.stderr);
  });
});

describe('encrypted HLS with --workers 2 (keys through the loopback relay)', { timeout: 300_000 }, () => {
  let rc: RelaycastProcess;
  before(async () => {
    rc = await startRelaycast('all', [
      '--play-auth',
      'signed',
      '--play-secret',
      SECRET,
      '--hls-encryption',
      'aes-128',
      '--workers',
      '2',
    ]);
    publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/wenc`, { size: '640x360', rate: 30, gop: 30 });
  });
  after(async () => {
    await killAll();
  });

  it('viewer threads serve keys to signed viewers only, and ffmpeg plays', async () => {
    const base = `http://127.0.0.1:${rc.ports.http}/live`;
    const token = () => signedQuery(SECRET, 'live', 'wenc', 300);
    const text = await waitFor(
      'an encrypted playlist from the workers',
      async () => {
        const res = await fetch(`${base}/wenc.ts.m3u8?${token()}`);
        const body = res.status === 200 ? await res.text() : '';
        return body.includes('#EXT-X-KEY:METHOD=AES-128') ? body : undefined;
      },
      60_000,
      250,
    );
    const keyUri = /URI="([^"]+)"/.exec(text)![1]!;
    for (let i = 0; i < 4; i++) {
      // several requests: both workers answer (the shared port spreads connections)
      const ok = await fetch(`${base}/${keyUri}`, { headers: { connection: 'close' } });
      assert.equal(ok.status, 200);
      assert.equal(Buffer.from(await ok.arrayBuffer()).length, 16);
    }
    assert.equal((await fetch(`${base}/${keyUri.split('?')[0]}`)).status, 403);
    const dec = await run(
      'ffmpeg',
      ['-v', 'warning', '-i', `${base}/wenc.ts.m3u8?${token()}`, '-t', '4', '-f', 'null', '-'],
      90_000,
    );
    assert.equal(dec.code, 0, dec.stderr);
    assert.doesNotMatch(dec.stderr, BAD_DECODE, dec.stderr);
  });
});

describe('encrypted HLS per channel (channel create --hls-encryption aes-128 on a node that encrypts nothing else)', {
  timeout: 300_000,
}, () => {
  let rc: RelaycastProcess;
  before(async () => {
    // Play stays open on this node; only the channel's keys need a signed URL.
    rc = await startRelaycast('all', ['--play-secret', SECRET]);
  });
  after(killAll);

  it('the channel streams encrypted, keys only with a token, ffmpeg plays the signed URL; other streams stay clear', async () => {
    const cli = (...a: string[]) =>
      run(process.execPath, [
        join(import.meta.dirname, '..', 'cli', 'main.ts'),
        ...a,
        '--control-plane',
        `127.0.0.1:${rc.ports.grpc}`,
      ]);
    const bad = await cli('channel', 'create', 'nope', '--hls-encryption', 'des');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /hlsEncryption must be "none" or "aes-128"/);
    const created = await cli('channel', 'create', 'paid', '--hls-encryption', 'aes-128', '--json');
    assert.equal(created.code, 0, created.stderr);
    const { key, channel } = JSON.parse(created.stdout) as {
      key: string;
      channel: { hlsEncryption: string };
    };
    assert.equal(channel.hlsEncryption, 'aes-128');
    assert.match((await cli('channel', 'get', 'paid')).stdout, /hlsEncryption: aes-128/);
    publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/${key}`, { size: '320x240', rate: 25, gop: 25 });
    publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/free`, { size: '320x240', rate: 25, gop: 25 });
    const base = `http://127.0.0.1:${rc.ports.http}/live`;
    const token = signedQuery(SECRET, 'live', 'paid', 300);
    const playlist = (name: string, q = '') =>
      waitFor(
        `a playlist of live/${name} with 2 segments`,
        async () => {
          const res = await fetch(`${base}/${name}.ts.m3u8${q}`);
          const text = res.status === 200 ? await res.text() : '';
          return text.split('\n').filter((l) => l.endsWith('.ts') || l.includes('.ts?')).length >= 2
            ? text
            : undefined;
        },
        60_000,
        250,
      );
    const paid = await playlist('paid', `?${token}`);
    const keys = paid.split('\n').filter((l) => l.startsWith('#EXT-X-KEY:METHOD=AES-128,'));
    assert.ok(keys.length >= 1, paid);
    const keyUri = /URI="([^"]+)"/.exec(keys[0]!)![1]!;
    assert.ok(
      keyUri.includes(token),
      'the key URI carries the viewer token (what a native HLS player follows)',
    );
    assert.equal((await fetch(`${base}/${keyUri}`)).status, 200);
    const refused = await fetch(`${base}/${keyUri.split('?')[0]}`);
    assert.equal(refused.status, 403);
    // Native-HLS style: the signed URL is all the player has; ffmpeg follows the key URIs in it.
    const dec = await run(
      'ffmpeg',
      ['-v', 'warning', '-i', `${base}/paid.ts.m3u8?${token}`, '-t', '4', '-f', 'null', '-'],
      90_000,
    );
    assert.equal(dec.code, 0, dec.stderr);
    assert.doesNotMatch(dec.stderr, BAD_DECODE, dec.stderr);
    const free = await playlist('free');
    assert.ok(!free.includes('#EXT-X-KEY'), free);
  });
});
