/**
 * An in-process RTMP server on loopback feeding a StreamHub, with open publishing: the real
 * RtmpServer/RtmpSession, for tests of RTMP clients (media/rtmp/client.ts, forwards) that need a
 * server they can stop and start again on the same port; and the same behind TLS (RTMPS).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import type { StreamHub } from '../../media/hub/hub.ts';
import { createLogger } from '../log.ts';
import { RtmpServer } from '../rtmp/server.ts';
import { type RtmpHandlers, RtmpSession, type RtmpSessionOptions } from '../rtmp/session.ts';
import { makeCertificate } from './tls.ts';

export const TEST_RTMP_OPTIONS: RtmpSessionOptions = {
  handshakeTimeoutMs: 5000,
  idlePublisherTimeoutMs: 0,
  maxMessageBytes: 16 * 1024 * 1024,
  maxChunkSize: 65536,
  amfMaxDepth: 32,
  amfMaxStringBytes: 65536,
};

/** Handlers for open publishing and playing into/from `hub`. */
export function hubHandlers(hub: StreamHub): RtmpHandlers {
  return {
    publish: async (req, onEnd) =>
      hub.publish(
        req.app,
        req.streamName,
        { sessionId: req.remote, kind: 'rtmp', remote: req.remote },
        onEnd,
      ),
    play: async (req) => {
      const s = hub.getLive(req.app, req.name);
      if (!s) throw new Error(`${req.app}/${req.name} is not live`);
      return s;
    },
  };
}

export interface TestRtmpServer {
  server: RtmpServer;
  port: number;
  /** Closes the listener and every session (their publications end). */
  close(): void;
}

/** Listens on 127.0.0.1:`port` (0 = any free port). */
export async function startTestRtmpServer(
  hub: StreamHub,
  port = 0,
  handlers: RtmpHandlers = hubHandlers(hub),
): Promise<TestRtmpServer> {
  const server = new RtmpServer(
    handlers,
    { ...TEST_RTMP_OPTIONS, host: '127.0.0.1', port, maxConnectionsPerIp: 0 },
    createLogger('silent'),
  );
  const bound = await server.listen();
  return { server, port: bound, close: () => server.closeAll() };
}

/**
 * A throwaway self-signed certificate for CN=localhost (openssl req), or the reason there is none
 * (no openssl on this machine): RTMPS tests skip with it.
 */
export function selfSignedCert(): { key: Buffer; cert: Buffer } | { missing: string } {
  const dir = mkdtempSync(join(tmpdir(), 'relaycast-tls-'));
  try {
    const { key, cert } = makeCertificate(dir, 'localhost');
    return { key: Buffer.from(key), cert: Buffer.from(cert) };
  } catch (err) {
    return { missing: `openssl could not make a certificate: ${(err as Error).message}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** RTMPS: RtmpSessions behind a TLS listener on 127.0.0.1 (port 0 = any), feeding `hub`. */
export async function startTestRtmpsServer(
  hub: StreamHub,
  tls: { key: Buffer; cert: Buffer },
): Promise<{ port: number; close(): void }> {
  const log = createLogger('silent');
  const server = createTlsServer(
    tls,
    (socket) => new RtmpSession(socket, hubHandlers(hub), TEST_RTMP_OPTIONS, log),
  );
  server.on('tlsClientError', () => {}); // a client refusing our certificate is what some tests check
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, close: () => server.close() };
}
