/**
 * Security features end to end: channel keys (hashed, rate-limited, never logged), signed play
 * URLs on HTTP-FLV, HLS and RTMP with secret rotation, the admin token, and a publisher that turns
 * to garbage after a valid start (its session closes; other streams and the process are fine).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signedQuery } from '../core/signing.ts';
import { encodeAmf0 } from '../media/amf/amf0.ts';
import { ChunkWriter } from '../media/rtmp/chunk.ts';
import { ClientHandshake } from '../media/rtmp/handshake.ts';
import {
  ffprobe,
  killAll,
  NODE,
  publish,
  type RelaycastProcess,
  ROOT,
  run,
  startRelaycast,
  waitFor,
} from './helpers/process.ts';

const KEY = 'k-studio-7f3a9c1e5b2d4f60';

/** A raw RTMP connection past the handshake, with a chunk writer (for malformed input). */
async function rtmpSession(port: number): Promise<{ sock: ReturnType<typeof connect>; w: ChunkWriter }> {
  const sock = connect({ host: '127.0.0.1', port });
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const hs = new ClientHandshake();
  sock.write(hs.start());
  await new Promise<void>((resolve) => {
    sock.on('data', (d: Buffer) => {
      const step = hs.push(d);
      if (step.reply) {
        sock.write(step.reply);
        resolve();
      }
    });
  });
  return { sock, w: new ChunkWriter() };
}
const SECRET = 'play-secret-current-0123456789';
const PREVIOUS = 'play-secret-previous-9876543210';

describe('security', { timeout: 240_000 }, () => {
  let rc: RelaycastProcess;
  const dir = mkdtempSync(join(tmpdir(), 'rc-sec-'));
  before(async () => {
    const cfg = join(dir, 'relaycast.yaml');
    writeFileSync(
      cfg,
      `publishAuth: keys\nplayAuth: signed\nchannels:\n  - { name: studio1, key: "${KEY}" }\n  - { name: other, key: "k-other-0000000000000" }\n`,
    );
    rc = await startRelaycast('all', [
      '--config',
      cfg,
      '--play-secret',
      SECRET,
      '--play-secret-previous',
      PREVIOUS,
      '--admin-token',
      'admintok-123',
    ]);
  });
  after(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });
  const rtmp = (path: string) => `rtmp://127.0.0.1:${rc.ports.rtmp}/live/${path}`;
  const http = (path: string) => `http://127.0.0.1:${rc.ports.http}/live/${path}`;
  const metrics = async () => (await fetch(`http://127.0.0.1:${rc.ports.admin}/metrics`)).text();

  it('a wrong key is refused with a clear status; the key never appears in the logs', async () => {
    const r = await run(
      'ffmpeg',
      [
        '-v',
        'error',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=160x120:rate=10',
        '-t',
        '3',
        '-c:v',
        'libx264',
        '-f',
        'flv',
        rtmp('not-a-valid-key-123'),
      ],
      30_000,
    );
    assert.notEqual(r.code, 0, 'ffmpeg must fail');
    const refused = await rc.waitForLog((l) => l.msg === 'publish refused');
    assert.equal(refused.code, 'RC_PUBLISH_KEY_INVALID');
    assert.ok(!JSON.stringify(rc.logs).includes('not-a-valid-key-123'), 'the presented key is not logged');
    assert.match(await metrics(), /relaycast_auth_failures_total\{[^}]*surface="publish"[^}]*\} [1-9]/);
  });

  it('the right key publishes under the channel name (also as ?key=); viewers never see the key', async () => {
    publish(rtmp(KEY), { size: '320x240' });
    publish(rtmp(`other?key=k-other-0000000000000`), { size: '320x240' });
    await waitFor(
      'studio1 and other live',
      async () => {
        const r = await fetch(`http://127.0.0.1:${rc.ports.admin}/api/v1/streams`, {
          headers: { authorization: 'Bearer admintok-123' },
        });
        const body = (await r.json()) as { streams: { name: string; live: boolean }[] };
        return body.streams.filter((s) => s.live && (s.name === 'studio1' || s.name === 'other')).length === 2
          ? true
          : undefined;
      },
      20_000,
      250,
    );
    assert.ok(!JSON.stringify(rc.logs).includes(KEY), 'the channel key is not logged');
  });

  it('signed URLs: missing, tampered and expired are 403 with a reason; current and previous secrets work', async () => {
    const missing = await fetch(http('studio1.flv'));
    assert.equal(missing.status, 403);
    assert.equal(
      ((await missing.json()) as { error: { code: string } }).error.code,
      'RC_PLAY_SIGNATURE_MISSING',
    );
    const expired = `expires=${Math.floor(Date.now() / 1000) - 10}&sig=${'0'.repeat(64)}`;
    assert.equal(
      ((await (await fetch(http(`studio1.flv?${expired}`))).json()) as { error: { code: string } }).error
        .code,
      'RC_PLAY_SIGNATURE_EXPIRED',
    );
    const good = signedQuery(SECRET, 'live', 'studio1', 600);
    const tampered = good.replace(/sig=(.)/, (_, c: string) => `sig=${c === 'a' ? 'b' : 'a'}`);
    assert.equal(
      ((await (await fetch(http(`studio1.flv?${tampered}`))).json()) as { error: { code: string } }).error
        .code,
      'RC_PLAY_SIGNATURE_INVALID',
    );
    // a token for another stream does not open this one
    assert.equal((await fetch(http(`studio1.flv?${signedQuery(SECRET, 'live', 'other', 600)}`))).status, 403);
    const probe = await ffprobe(http(`studio1.flv?${good}`));
    assert.ok(probe.streams.some((s) => s.codec_type === 'video'));
    const old = await fetch(http(`studio1.flv?${signedQuery(PREVIOUS, 'live', 'studio1', 600)}`), {
      method: 'HEAD',
    });
    assert.equal(old.status, 200, 'the previous secret still works during rotation');
    assert.match(
      await metrics(),
      /relaycast_auth_failures_total\{[^}]*surface="play"[^}]*reason="RC_PLAY_SIGNATURE_EXPIRED"/,
    );
  });

  it('relaycast sign prints working URLs', async () => {
    const r = await run(
      NODE,
      [
        join(ROOT, 'cli', 'main.ts'),
        'sign',
        'live/studio1',
        '--ttl',
        '10m',
        '--secret',
        SECRET,
        '--base',
        `http://127.0.0.1:${rc.ports.http}`,
      ],
      20_000,
    );
    assert.equal(r.code, 0, r.stderr);
    const [flvUrl] = r.stdout.trim().split('\n');
    assert.equal((await fetch(flvUrl!, { method: 'HEAD' })).status, 200);
  });

  it('HLS: the playlist carries the token to every segment; segments without it are refused', async () => {
    const q = signedQuery(SECRET, 'live', 'studio1', 600);
    const text = await waitFor(
      'playlist',
      async () => {
        const r = await fetch(http(`studio1.ts.m3u8?${q}`));
        return r.ok ? r.text() : undefined;
      },
      30_000,
      500,
    );
    const uris = text.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.ok(uris.length > 0);
    for (const u of uris) assert.ok(u.includes(q), `segment URI carries the token: ${u}`);
    assert.equal((await fetch(http(uris[0]!))).status, 200);
    assert.equal((await fetch(http(uris[0]!.split('?')[0]!))).status, 403, 'no hot-linking of segments');
  });

  it('RTMP play needs the token too', async () => {
    const bad = await run(
      'ffmpeg',
      ['-v', 'error', '-rw_timeout', '5000000', '-i', rtmp('studio1'), '-t', '1', '-f', 'null', '-'],
      30_000,
    );
    assert.notEqual(bad.code, 0);
    const ok = await run(
      'ffmpeg',
      [
        '-v',
        'error',
        '-rw_timeout',
        '10000000',
        '-i',
        rtmp(`studio1?${signedQuery(SECRET, 'live', 'studio1', 600)}`),
        '-t',
        '2',
        '-f',
        'null',
        '-',
      ],
      30_000,
    );
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('admin API needs the admin token; nothing admin is served on the viewer port', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${rc.ports.admin}/api/v1/streams`)).status, 401);
    assert.equal(
      (
        await fetch(`http://127.0.0.1:${rc.ports.admin}/api/v1/streams`, {
          headers: { authorization: 'Bearer wrong' },
        })
      ).status,
      401,
    );
    assert.equal((await fetch(`http://127.0.0.1:${rc.ports.http}/api/v1/streams`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${rc.ports.http}/metrics`)).status, 404);
  });

  it('failed publish attempts are rate-limited per address', async () => {
    let limited = false;
    for (let i = 0; i < 12 && !limited; i++) {
      await run(
        'ffmpeg',
        [
          '-v',
          'error',
          '-f',
          'lavfi',
          '-i',
          'testsrc2=size=64x64:rate=5',
          '-t',
          '1',
          '-c:v',
          'libx264',
          '-f',
          'flv',
          rtmp(`guess-${i}-xxxxxxxx`),
        ],
        20_000,
      );
      limited = rc.logs.some((l) => l.msg === 'publish refused' && l.code === 'RC_PUBLISH_RATE_LIMITED');
    }
    assert.ok(limited, 'after 10 failures in a minute the address is refused outright');
  });

  it('a publisher that sends garbage after a valid start is closed; other streams and the process carry on', async () => {
    const { sock, w } = await rtmpSession(rc.ports.rtmp);
    sock.write(
      w.encode({
        csid: 3,
        typeId: 20,
        streamId: 0,
        timestamp: 0,
        payload: encodeAmf0(['connect', 1, { app: 'live', tcUrl: 'rtmp://x/live' }]),
      }),
    );
    await new Promise((r) => setTimeout(r, 200));
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    // a chunk claiming a 16 MiB message (over --rtmp-max-message-bytes, 8 MiB), then noise
    sock.write(
      Buffer.concat([
        Buffer.from([0x04, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0]),
        Buffer.alloc(4096, 0xaa),
      ]),
    );
    await closed;
    const errorLog = await rc.waitForLog(
      (l) => l.msg === 'rtmp session error' && l.code === 'RC_RTMP_MESSAGE_TOO_LARGE',
    );
    assert.ok(errorLog);
    const probe = await ffprobe(http(`studio1.flv?${signedQuery(SECRET, 'live', 'studio1', 600)}`));
    assert.ok(
      probe.streams.some((s) => s.codec_type === 'video'),
      'other streams keep playing',
    );
    assert.equal(rc.proc.exitCode, null, 'the process is alive');
  });
});

describe('configurable limits: AMF depth, chunk size, HTTP request head', { timeout: 60_000 }, () => {
  let rc: RelaycastProcess;
  before(async () => {
    rc = await startRelaycast('all', [
      '--amf-max-depth',
      '4',
      '--rtmp-max-chunk-size',
      '65536',
      '--http-max-header-bytes',
      '2048',
    ]);
  });
  after(() => killAll());

  it('--amf-max-depth: a connect nested deeper is refused with RC_AMF_TOO_DEEP', async () => {
    const { sock, w } = await rtmpSession(rc.ports.rtmp);
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    let nested: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 6; i++) nested = { n: nested };
    sock.write(
      w.encode({
        csid: 3,
        typeId: 20,
        streamId: 0,
        timestamp: 0,
        payload: encodeAmf0(['connect', 1, { app: 'live', deep: nested as never }]),
      }),
    );
    await closed;
    await rc.waitForLog((l) => l.msg === 'rtmp session error' && l.code === 'RC_AMF_TOO_DEEP');
    // ordinary encoders stay well inside the limit: ffmpeg still publishes here
    const probe = publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/ok`, { size: '160x120', durationSec: 3 });
    await waitFor(
      'a normal publish still works',
      async () => {
        const res = await fetch(`http://127.0.0.1:${rc.ports.admin}/api/v1/streams`);
        return (
          ((await res.json()) as { streams: { name: string }[] }).streams.some((s) => s.name === 'ok') ||
          undefined
        );
      },
      15_000,
    );
    await probe.stop();
  });

  it('--rtmp-max-chunk-size: a larger Set Chunk Size closes the session', async () => {
    const { sock } = await rtmpSession(rc.ports.rtmp);
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    const body = Buffer.alloc(4);
    body.writeUInt32BE(1_000_000);
    // fmt 0, csid 2, timestamp 0, length 4, type 1 (Set Chunk Size), stream 0
    sock.write(Buffer.concat([Buffer.from([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0]), body]));
    await closed;
    await rc.waitForLog(
      (l) => l.msg === 'rtmp session error' && typeof l.code === 'string' && l.code.startsWith('RC_RTMP'),
    );
  });

  it('--http-max-header-bytes: a bigger request head gets 431', async () => {
    const res = await new Promise<number>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: rc.ports.http }, () =>
        s.write(`GET /live/x.flv HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`),
      );
      s.once('data', (d: Buffer) => {
        resolve(Number(d.toString('latin1').split(' ')[1]));
        s.destroy();
      });
      s.once('error', reject);
    });
    assert.equal(res, 431);
    const ok = await fetch(`http://127.0.0.1:${rc.ports.http}/live/none.flv`);
    assert.equal(ok.status, 404, 'normal requests still answered');
  });
});
