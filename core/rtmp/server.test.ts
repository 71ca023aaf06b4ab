/**
 * RtmpServer over TLS on loopback: the same RTMP session inside TLS, the per-IP limit shared with
 * the plain listener and applied before the TLS handshake, and setSecureContext for new
 * connections.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { RtmpClient } from '../../media/rtmp/client.ts';
import { createLogger } from '../log.ts';
import { ConnectionLimiter } from '../net-limits.ts';
import { makeCertificate } from '../testing/tls.ts';
import { RtmpServer } from './server.ts';

const log = createLogger('silent');
const OPTIONS = {
  host: '127.0.0.1',
  port: 0,
  maxConnectionsPerIp: 0,
  handshakeTimeoutMs: 5000,
  idlePublisherTimeoutMs: 0,
  maxMessageBytes: 8 * 1024 * 1024,
  maxChunkSize: 65536,
  amfMaxDepth: 16,
  amfMaxStringBytes: 65536,
};

/** A TLS connection: resolves once secure, rejects if the server closes it first. */
function secureConnect(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s));
    s.once('error', reject);
    s.once('close', () => reject(new Error('closed before the TLS handshake finished')));
    s.setTimeout(10_000, () => s.destroy(new Error('timeout')));
  });
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(cond(), what);
}

describe('RtmpServer over TLS', () => {
  let dir: string;
  let first: { cert: string; key: string };
  let second: { cert: string; key: string };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rc-rtmps-'));
    first = makeCertificate(dir, 'first.example');
    second = makeCertificate(dir, 'second.example');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs an RTMP session inside TLS; setSecureContext serves new connections the new certificate', async () => {
    const server = new RtmpServer({}, { ...OPTIONS, tls: first }, log);
    const port = await server.listen();
    try {
      const socket = await secureConnect(port);
      assert.equal(socket.getPeerCertificate().subject.CN, 'first.example');
      const client = await RtmpClient.over(socket);
      await client.connect('live');
      assert.equal(server.sessionCount, 1);
      server.setSecureContext(second);
      const next = await secureConnect(port);
      assert.equal(next.getPeerCertificate().subject.CN, 'second.example');
      next.destroy();
      client.close();
      await until('session gone', () => server.sessionCount === 0);
    } finally {
      server.closeAll();
    }
  });

  it('one per-IP budget for RTMP and RTMPS, taken before the TLS handshake', async () => {
    const limiter = new ConnectionLimiter(1);
    const plain = new RtmpServer({}, { ...OPTIONS, maxConnectionsPerIp: 1, limiter }, log);
    const secure = new RtmpServer({}, { ...OPTIONS, maxConnectionsPerIp: 1, limiter, tls: first }, log);
    const plainPort = await plain.listen();
    const securePort = await secure.listen();
    try {
      const held = tcpConnect(plainPort, '127.0.0.1');
      await new Promise((r) => held.once('connect', r));
      await until('plain connection counted', () => plain.sessionCount === 1);
      await assert.rejects(secureConnect(securePort), 'the second connection from the address is refused');
      held.destroy();
      await until('released', () => {
        const free = limiter.acquire('127.0.0.1');
        if (free) limiter.release('127.0.0.1');
        return free;
      });
      const ok = await secureConnect(securePort);
      ok.destroy();
    } finally {
      plain.closeAll();
      secure.closeAll();
    }
  });

  it('a plain RTMP handshake on the TLS listener is closed; the listener keeps serving', async () => {
    const server = new RtmpServer({}, { ...OPTIONS, tls: first }, log);
    let tlsErrors = 0;
    server.onTlsError = () => tlsErrors++;
    const port = await server.listen();
    try {
      const raw = tcpConnect(port, '127.0.0.1');
      await new Promise((r) => raw.once('connect', r));
      await assert.rejects(RtmpClient.over(raw, 10_000));
      assert.equal(tlsErrors, 1);
      assert.equal(server.sessionCount, 0);
      (await secureConnect(port)).destroy();
    } finally {
      server.closeAll();
    }
  });
});
