import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log.ts';
import { ConnectionLimiter, listenOn } from '../net-limits.ts';
import { type RtmpHandlers, RtmpSession, type RtmpSessionOptions } from './session.ts';

export interface RtmpServerOptions extends RtmpSessionOptions {
  host: string;
  port: number;
  maxConnectionsPerIp: number;
}

/** TCP listener for RTMP; one RtmpSession per connection. */
export class RtmpServer {
  private readonly server: Server;
  private readonly sessions = new Set<RtmpSession>();
  private readonly limiter: ConnectionLimiter;
  private readonly options: RtmpServerOptions;
  private readonly log: Logger;
  onConnectionCount?: (n: number) => void;
  accepting = true;

  constructor(handlers: RtmpHandlers, options: RtmpServerOptions, log: Logger) {
    this.options = options;
    this.log = log.child({ component: 'rtmp' });
    this.limiter = new ConnectionLimiter(options.maxConnectionsPerIp);
    this.server = createServer({ noDelay: true }, (socket) => this.onConnection(socket, handlers));
    this.server.on('error', (err) => this.log.error({ err }, 'rtmp listener error'));
  }

  /**
   * Serves a connection that did not come from the listener: in-memory tests hand it one end of a
   * fake socket pair (core/testing/fake-net.ts). Same limits and bookkeeping as a TCP connection.
   */
  accept(socket: Socket): void {
    this.server.emit('connection', socket);
  }

  private onConnection(socket: Socket, handlers: RtmpHandlers): void {
    const ip = socket.remoteAddress ?? '';
    if (!this.accepting || !this.limiter.acquire(ip)) {
      socket.destroy();
      return;
    }
    const session = new RtmpSession(socket, handlers, this.options, this.log);
    this.sessions.add(session);
    this.onConnectionCount?.(this.sessions.size);
    socket.once('close', () => {
      this.limiter.release(ip);
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
