import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { RelaycastError } from './errors.ts';
import { makeCertificate } from './testing/tls.ts';
import { type CertificatePair, CertificateReloader, loadCertificate } from './tls-cert.ts';

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { log: pino({ level: 'debug', formatters: { level: (label) => ({ level: label }) } }, sink), lines };
}

describe('TLS certificate files', () => {
  let dir: string;
  let a: { cert: string; key: string };
  let b: { cert: string; key: string };
  const certFile = () => join(dir, 'cert.pem');
  const keyFile = () => join(dir, 'key.pem');
  const install = (pair: { cert: string; key: string }) => {
    writeFileSync(certFile(), pair.cert);
    writeFileSync(keyFile(), pair.key);
  };
  const rejects = (re: RegExp) => (e: unknown) =>
    e instanceof RelaycastError && e.code === 'RC_TLS_CERT_INVALID' && re.test(e.message);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rc-tls-'));
    a = makeCertificate(dir, 'first.example');
    b = makeCertificate(dir, 'second.example');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a pair and summarises the certificate without the key', async () => {
    install(a);
    const { pair, summary } = await loadCertificate({ certFile: certFile(), keyFile: keyFile() });
    assert.equal(summary.subject, 'CN=first.example');
    assert.ok(Date.parse(summary.validTo) > Date.now());
    assert.match(summary.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.ok(!JSON.stringify(summary).includes('PRIVATE'));
    assert.equal(pair.key.toString(), a.key);
  });

  it('refuses a missing file, a non-PEM certificate and a key of another certificate, naming the flag', async () => {
    install(a);
    await assert.rejects(
      loadCertificate({ certFile: join(dir, 'nope.pem'), keyFile: keyFile() }),
      rejects(/cannot read --tls-cert .*nope\.pem/),
    );
    writeFileSync(certFile(), 'garbage');
    await assert.rejects(
      loadCertificate({ certFile: certFile(), keyFile: keyFile() }),
      rejects(/--tls-cert .* is not a PEM certificate/),
    );
    writeFileSync(certFile(), a.cert);
    writeFileSync(keyFile(), b.key);
    await assert.rejects(
      loadCertificate({ certFile: certFile(), keyFile: keyFile() }),
      rejects(/--tls-key .* not a PEM private key matching --tls-cert/),
    );
  });

  it('the reloader applies a good new pair, keeps the old on a bad one, and notices file changes', async () => {
    install(a);
    const applied: CertificatePair[] = [];
    const { log, lines } = capturingLogger();
    const reloader = new CertificateReloader(
      {
        certFile: certFile(),
        keyFile: keyFile(),
        apply: (p) => applied.push(p),
        pollIntervalMs: 50,
        debounceMs: 20,
      },
      log,
    );
    try {
      const first = await reloader.start();
      assert.equal(first.cert.toString(), a.cert);
      // a certificate without its key yet (half-written renewal): error, nothing applied
      writeFileSync(certFile(), b.cert);
      await reloader.reload('SIGHUP');
      assert.equal(applied.length, 0);
      const error = lines.find((l) => l.level === 'error');
      assert.equal(error?.code, 'RC_TLS_CERT_INVALID');
      assert.equal(reloader.current?.subject, 'CN=first.example', 'keeps the old');
      // the key arrives: the file watcher reloads on its own
      writeFileSync(keyFile(), b.key);
      const deadline = Date.now() + 10_000;
      while (!applied.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      assert.equal(applied.at(-1)?.cert.toString(), b.cert);
      const ok = lines.find((l) => l.msg === 'TLS certificate reloaded');
      assert.equal(ok?.subject, 'CN=second.example');
      assert.ok(!lines.some((l) => JSON.stringify(l).includes('PRIVATE KEY')), 'the key is never logged');
    } finally {
      reloader.close();
      reloader.close();
    }
  });
});
