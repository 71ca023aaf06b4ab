/**
 * A node's RTMP listeners: plain RTMP on --rtmp-port and, with --rtmps-port, the same sessions
 * over TLS with a certificate that reloads on SIGHUP or when its files change. Origins, edges and
 * the all-in-one all build theirs here, so the two listeners never drift apart.
 */
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import type { Metrics } from '../core/metrics.ts';
import { ConnectionLimiter } from '../core/net-limits.ts';
import { RtmpServer } from '../core/rtmp/server.ts';
import type { RtmpHandlers } from '../core/rtmp/session.ts';
import { CertificateReloader } from '../core/tls-cert.ts';

export function rtmpOptions(config: Config) {
  return {
    host: config.host,
    port: config.rtmpPort,
    maxConnectionsPerIp: config.maxConnectionsPerIp,
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    idlePublisherTimeoutMs: config.idlePublisherTimeoutMs,
    maxMessageBytes: config.rtmpMaxMessageBytes,
    maxChunkSize: config.rtmpMaxChunkSize,
    amfMaxDepth: config.amfMaxDepth,
    amfMaxStringBytes: config.amfMaxStringBytes,
  };
}

export class RtmpListeners {
  readonly rtmp: RtmpServer;
  private rtmps: RtmpServer | undefined;
  private certificates: CertificateReloader | undefined;
  private readonly config: Config;
  private readonly handlers: RtmpHandlers;
  private readonly limiter: ConnectionLimiter;
  private readonly metrics: Metrics;
  private readonly log: Logger;

  constructor(config: Config, handlers: RtmpHandlers, metrics: Metrics, log: Logger) {
    this.config = config;
    this.handlers = handlers;
    this.metrics = metrics;
    this.log = log;
    // one per-IP budget across RTMP and RTMPS
    this.limiter = new ConnectionLimiter(config.maxConnectionsPerIp);
    this.rtmp = new RtmpServer(handlers, { ...rtmpOptions(config), limiter: this.limiter }, log);
    this.rtmp.onConnectionCount = (n) => metrics.connections.set({ listener: 'rtmp' }, n);
  }

  /**
   * Opens the configured listeners and records their bound ports in `ports` (rtmp, rtmps). The
   * certificate is read first: a bad one stops start-up with RC_TLS_CERT_INVALID.
   */
  async listen(ports: Record<string, number>): Promise<void> {
    const { rtmpsPort, tlsCert, tlsKey } = this.config;
    if (!rtmpsPort || !tlsCert || !tlsKey) {
      if (this.config.rtmpPort) ports.rtmp = await this.rtmp.listen();
      return;
    }
    this.certificates = new CertificateReloader(
      {
        certFile: tlsCert,
        keyFile: tlsKey,
        apply: (pair) => this.rtmps?.setSecureContext(pair),
      },
      this.log,
    );
    const pair = await this.certificates.start();
    this.rtmps = new RtmpServer(
      this.handlers,
      { ...rtmpOptions(this.config), port: rtmpsPort, limiter: this.limiter, tls: pair },
      this.log,
    );
    if (this.config.rtmpPort) ports.rtmp = await this.rtmp.listen();
    this.rtmps.onConnectionCount = (n) => this.metrics.connections.set({ listener: 'rtmps' }, n);
    ports.rtmps = await this.rtmps.listen();
  }

  /** SIGHUP: re-read the RTMPS certificate now (no-op without RTMPS). */
  reloadCertificates(): Promise<void> {
    return this.certificates?.reload('SIGHUP') ?? Promise.resolve();
  }

  get hasTls(): boolean {
    return this.certificates !== undefined;
  }

  stopAccepting(): void {
    this.rtmp.stopAccepting();
    this.rtmps?.stopAccepting();
  }

  closeAll(): void {
    this.certificates?.close();
    this.rtmp.closeAll();
    this.rtmps?.closeAll();
  }
}
