/**
 * RTMPS end to end: ffmpeg publishes over TLS to the all-in-one, ffprobe plays it over HTTP-FLV and
 * over RTMPS; a plain RTMP client on the TLS port is refused without harm; the certificate is
 * replaced on SIGHUP and on a file change, and a bad one keeps the old certificate serving.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:tls';
import { makeCertificate } from '../core/testing/tls.ts';
import {
  ffprobe,
  freePort,
  getJson,
  killAll,
  type Publisher,
  publish,
  type RelaycastProcess,
  run,
  startRelaycast,
  waitFor,
} from './helpers/process.ts';

/** The CN of the certificate a new TLS connection to the port is given. */
function peerCommonName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false },
      () => {
        const cn = socket.getPeerCertificate().subject?.CN;
        socket.destroy();
        if (typeof cn === 'string') resolve(cn);
        else reject(new Error(`no CN in ${JSON.stringify(socket.getPeerCertificate().subject)}`));
      },
    );
    socket.setTimeout(10_000, () => socket.destroy(new Error('TLS connect timed out')));
    socket.once('error', reject);
  });
}

describe('RTMPS', { timeout: 240_000 }, () => {
  let dir: string;
  let certFile: string;
  let keyFile: string;
  let rtmpsPort: number;
  let rc: RelaycastProcess;
  let publisher: Publisher;

  const install = (pair: { cert: string; key: string }) => {
    writeFileSync(certFile, pair.cert);
    writeFileSync(keyFile, pair.key);
  };
  const rtmpsUrl = (name: string) => `rtmps://127.0.0.1:${rtmpsPort}/live/${name}`;
  const flvUrl = (name: string) => `http://127.0.0.1:${rc.ports.http}/live/${name}.flv`;
  const waitLive = (name: string) =>
    waitFor(
      `${name} live`,
      async () => {
        const r = await getJson<{ streams: { name: string; live: boolean; video?: unknown }[] }>(
          `http://127.0.0.1:${rc.ports.admin}/api/v1/streams`,
        );
        return r.body.streams.find((s) => s.name === name && s.live && s.video);
      },
      30_000,
      200,
    );
  const assertH264Aac = (probe: { streams: Record<string, unknown>[] }, what: string) => {
    const codecs = probe.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort();
    assert.deepEqual(codecs, ['audio:aac', 'video:h264'], what);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'relaycast-rtmps-'));
    certFile = join(dir, 'c.pem');
    keyFile = join(dir, 'k.pem');
    install(makeCertificate(dir, 'localhost'));
    rtmpsPort = await freePort();
    rc = await startRelaycast('all', [
      '--rtmps-port',
      String(rtmpsPort),
      '--tls-cert',
      certFile,
      '--tls-key',
      keyFile,
    ]);
  });
  after(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the banner shows the rtmps:// publish and play URLs', async () => {
    await waitFor('banner', () => rc.stderr.join('').includes('RTMPS play:') || undefined, 5000);
    const text = rc.stderr.join('');
    assert.ok(text.includes(`rtmps://127.0.0.1:${rtmpsPort}/live `), text);
    assert.ok(text.includes(`RTMPS play:  rtmps://127.0.0.1:${rtmpsPort}/live/test`), text);
  });

  it('ffmpeg publishes over RTMPS; ffprobe sees h264 + aac over HTTP-FLV and over RTMPS', async () => {
    publisher = publish(rtmpsUrl('secure'), { size: '320x240' });
    await waitLive('secure');
    assertH264Aac(await ffprobe(flvUrl('secure')), 'HTTP-FLV');
    assertH264Aac(await ffprobe(rtmpsUrl('secure')), 'RTMPS play');
    const metrics = await (await fetch(`http://127.0.0.1:${rc.ports.admin}/metrics`)).text();
    assert.match(metrics, /relaycast_connections\{[^}]*listener="rtmps"[^}]*\} [1-9]/);
  });

  it('a plain RTMP client on the RTMPS port fails cleanly; the server goes on serving', async () => {
    const before = rc.logs.length;
    const plain = await run(
      'ffprobe',
      ['-v', 'error', '-rw_timeout', '10000000', `rtmp://127.0.0.1:${rtmpsPort}/live/secure`],
      60_000,
    );
    assert.notEqual(plain.code, 0, 'plain RTMP must not play from the TLS port');
    await waitFor('TLS handshake failure logged', () =>
      rc.logs.slice(before).find((l) => l.msg === 'TLS handshake failed'),
    );
    assert.equal(rc.proc.exitCode, null);
    assert.equal((await fetch(`http://127.0.0.1:${rc.ports.admin}/healthz`)).status, 200);
    assertH264Aac(await ffprobe(rtmpsUrl('secure')), 'RTMPS play after the plain client');
  });

  it('SIGHUP and a file change load a new certificate; a bad one keeps the old serving', async () => {
    assert.equal(await peerCommonName(rtmpsPort), 'localhost');
    // SIGHUP
    let mark = rc.logs.length;
    install(makeCertificate(dir, 'renewed-by-sighup'));
    rc.proc.kill('SIGHUP');
    const reloaded = await rc.waitForLog(
      (l) => l.msg === 'TLS certificate reloaded' && l.reason === 'SIGHUP' && rc.logs.indexOf(l) >= mark,
    );
    assert.equal(reloaded.subject, 'CN=renewed-by-sighup');
    assert.equal(reloaded.key, undefined, 'the key is never logged');
    assert.equal(await peerCommonName(rtmpsPort), 'renewed-by-sighup');
    // the files change on disk (cert-manager, certbot deploy hook): no signal needed
    mark = rc.logs.length;
    install(makeCertificate(dir, 'renewed-on-disk'));
    await rc.waitForLog(
      (l) =>
        l.msg === 'TLS certificate reloaded' &&
        l.subject === 'CN=renewed-on-disk' &&
        rc.logs.indexOf(l) >= mark,
      20_000,
    );
    assert.equal(await peerCommonName(rtmpsPort), 'renewed-on-disk');
    // a broken certificate file: one error line with its code, the previous certificate stays
    mark = rc.logs.length;
    writeFileSync(certFile, 'not a certificate\n');
    rc.proc.kill('SIGHUP');
    const failed = await rc.waitForLog(
      (l) => l.level === 'error' && l.reason === 'SIGHUP' && rc.logs.indexOf(l) >= mark,
    );
    assert.equal(failed.code, 'RC_TLS_CERT_INVALID');
    assert.match(String(failed.msg), /keeping the previous certificate/);
    assert.equal(await peerCommonName(rtmpsPort), 'renewed-on-disk');
    assert.equal(rc.proc.exitCode, null);
    // the publisher connected over TLS before all this is still live, and RTMPS still plays
    assert.equal(publisher.proc.exitCode, null, publisher.stderr());
    assertH264Aac(await ffprobe(rtmpsUrl('secure')), 'RTMPS play after the reloads');
  });
});
