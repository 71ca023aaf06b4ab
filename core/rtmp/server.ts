import { createServer, type Server, type Socket } from 'node:net';
import {
  createServer as createTlsServer,
  type SecureContextOptions,
  type Server as TlsServer,
} from 'node:tls';
import type { Logger } from '../log.ts';
import { ConnectionLimiter, listenOn } from '../net-limits.ts';
import { type RtmpHandlers, RtmpSession, type RtmpSessionOptions } from './session.ts';

export interface RtmpServerOptions extends RtmpSessionOptions {
  host: string;
  port: number;
  maxConnectionsPerIp: number;
  /**
   * RTMPS: serve RTMP inside TLS with this certificate and key (PEM). The session is the same;
   * only the listener differs. Replace them later with setSecureContext().
   */
  tls?: Pick<SecureContextOptions, 'cert' | 'key'>;
  /**
   * Per-IP counts shared with another listener (RTMP and RTMPS on one node), so
   * --max-connections-per-ip bounds a client across both; default: a limiter of its own.
   */
  limiter?: ConnectionLimiter;
}

/**
 * RTMP listener, over plain TCP or over TLS (RTMPS); one RtmpSession per connection. The
 * per-IP limit is applied to the TCP connection, before any TLS handshake, so a handshake flood
 * from one address is bounded too.
 */
export class RtmpServer {
  private readonly server: Server;
  private readonly sessions = new Set<RtmpSession>();
  private readonly limiter: ConnectionLimiter;
  private readonly options: RtmpServerOptions;
  private readonly log: Logger;
  readonly secure: boolean;
  onConnectionCount?: (n: number) => void;
  /** A TLS handshake failed (e.g. a plain RTMP client on the RTMPS port); the connection is closed. */
  onTlsError?: (err: Error & { code?: string }) => void;
  accepting = true;

  constructor(handlers: RtmpHandlers, options: RtmpServerOptions, log: Logger) {
    this.options = options;
    this.secure = options.tls !== undefined;
    this.log = log.child({ component: this.secure ? 'rtmps' : 'rtmp' });
    this.limiter = options.limiter ?? new ConnectionLimiter(options.maxConnectionsPerIp);
    const onSession = (socket: Socket) => this.onSession(socket, handlers);
    if (options.tls) {
      const tls: TlsServer = createTlsServer(
        // The RTMP handshake timeout also bounds the TLS handshake before it (Node's default is 120 s).
        { ...options.tls, noDelay: true, handshakeTimeout: options.handshakeTimeoutMs },
        onSession,
      );
      tls.on('tlsClientError', (err: Error & { code?: string }, socket) => {
        this.log.debug(
          { err: err.message, code: err.code, ip: socket.remoteAddress },
          'TLS handshake failed',
        );
        this.onTlsError?.(err);
      });
      this.server = tls;
    } else {
      this.server = createServer({ noDelay: true }, onSession);
    }
    // Runs before the TLS server's own 'connection' listener wraps the socket.
    this.server.prependListener('connection', (socket: Socket) => this.onTcpConnection(socket));
    this.server.on('error', (err) => this.log.error({ err }, 'rtmp listener error'));
  }

  /**
   * Serves a connection that did not come from the listener: in-memory tests hand it one end of a
   * fake socket pair (core/testing/fake-net.ts). Same limits and bookkeeping as a TCP connection
   * (and, on an RTMPS server, the same TLS).
   */
  accept(socket: Socket): void {
    this.server.emit('connection', socket);
  }

  /** RTMPS: certificate and key for new connections; connections already up keep theirs. */
  setSecureContext(tls: Pick<SecureContextOptions, 'cert' | 'key'>): void {
    if (!this.secure) throw new Error('setSecureContext on a plain RTMP listener');
    (this.server as TlsServer).setSecureContext(tls);
  }

  private onTcpConnection(socket: Socket): void {
    const ip = socket.remoteAddress ?? '';
    if (!this.accepting || !this.limiter.acquire(ip)) {
      socket.destroy();
      return;
    }
    socket.once('close', () => this.limiter.release(ip));
  }

  private onSession(socket: Socket, handlers: RtmpHandlers): void {
    // refused in onTcpConnection (the TLS server still wraps and may complete a handshake)
    if (socket.destroyed || !this.accepting) {
      socket.destroy();
      return;
    }
    const session = new RtmpSession(socket, handlers, this.options, this.log);
    this.sessions.add(session);
    this.onConnectionCount?.(this.sessions.size);
    socket.once('close', () => {
      this.sessions.delete(session);
      this.onConnectionCount?.(this.sessions.size);
    });
  }

  listen(): Promise<number> {
    return listenOn(this.server, this.options.port, this.options.host);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Stop accepting; existing sessions go on until closeAll(). */
  stopAccepting(): void {
    this.accepting = false;
    this.server.close();
  }

  closeAll(): void {
    this.stopAccepting();
    for (const s of [...this.sessions]) s.close('shutdown');
  }
}
