/**
 * The RTMPS certificate: read from its PEM files (--tls-cert, --tls-key), checked, and re-read on
 * SIGHUP or when either file changes (cert-manager and Kubernetes Secret volumes replace files
 * in place). A bad new pair is logged once with RC_TLS_CERT_INVALID and the listeners keep the
 * pair they have, so a half-written renewal never takes RTMPS down.
 */

import { X509Certificate } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { RelaycastError } from './errors.ts';
import type { Logger } from './log.ts';

export interface CertificatePair {
  cert: Buffer;
  key: Buffer;
}

/** What may be logged about a certificate (never the key). */
export interface CertificateSummary {
  subject: string;
  issuer: string;
  validTo: string;
  fingerprint256: string;
}

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
}

/** Reads and checks a certificate/key pair; an RC_TLS_CERT_INVALID error names the file and cause. */
export async function loadCertificate(files: CertificateFiles): Promise<{
  pair: CertificatePair;
  summary: CertificateSummary;
}> {
  const read = async (file: string, flag: string) => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new RelaycastError(
        'RC_TLS_CERT_INVALID',
        `cannot read ${flag} ${file}: ${(err as Error).message}; check the path and permissions`,
        { cause: err },
      );
    }
  };
  const [cert, key] = await Promise.all([
    read(files.certFile, '--tls-cert'),
    read(files.keyFile, '--tls-key'),
  ]);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new RelaycastError(
      'RC_TLS_CERT_INVALID',
      `--tls-cert ${files.certFile} is not a PEM certificate (${(err as Error).message}); give the file with "-----BEGIN CERTIFICATE-----"`,
      { cause: err },
    );
  }
  try {
    // Parses the key and checks it belongs to the certificate (OpenSSL's key/cert match).
    createSecureContext({ cert, key });
  } catch (err) {
    throw new RelaycastError(
      'RC_TLS_CERT_INVALID',
      `--tls-key ${files.keyFile} is not a PEM private key matching --tls-cert ${files.certFile} (${(err as Error).message}); give the key the certificate was made for`,
      { cause: err },
    );
  }
  return {
    pair: { cert, key },
    summary: {
      subject: x509.subject.replace(/\n/g, ', '),
      issuer: x509.issuer.replace(/\n/g, ', '),
      validTo: new Date(x509.validTo).toISOString(),
      fingerprint256: x509.fingerprint256,
    },
  };
}

export interface CertificateReloaderOptions extends CertificateFiles {
  /** Gets the new pair (the RTMPS listeners' setSecureContext). */
  apply: (pair: CertificatePair) => void;
  /** How often the files' stat is polled (fs.watchFile); polling survives rename-replacement. */
  pollIntervalMs?: number;
  /** Changes closer together than this are one reload (cert and key are rarely written at once). */
  debounceMs?: number;
}

/**
 * Re-reads the pair when asked (SIGHUP) or when a file changes, and applies it when it is valid.
 * close() is safe to call twice.
 */
export class CertificateReloader {
  private readonly options: Required<CertificateReloaderOptions>;
  private readonly log: Logger;
  private debounce: NodeJS.Timeout | undefined;
  /** One reload at a time; a request during one runs again after it. */
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readonly onFileChange = () => this.scheduleReload('file changed');
  current: CertificateSummary | undefined;

  constructor(options: CertificateReloaderOptions, log: Logger) {
    this.options = { pollIntervalMs: 1000, debounceMs: 500, ...options };
    this.log = log.child({ component: 'tls' });
  }

  /** Loads the pair once (start-up: an error here is fatal) and starts watching the files. */
  async start(): Promise<CertificatePair> {
    const { pair, summary } = await loadCertificate(this.options);
    this.current = summary;
    this.log.info({ certFile: this.options.certFile, ...summary }, 'TLS certificate loaded');
    const watch = { persistent: false, interval: this.options.pollIntervalMs };
    watchFile(this.options.certFile, watch, this.onFileChange);
    watchFile(this.options.keyFile, watch, this.onFileChange);
    return pair;
  }

  scheduleReload(reason: string): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reload(reason), this.options.debounceMs);
    this.debounce.unref();
  }

  /** Re-reads now; resolves when done (errors are logged, never thrown). */
  async reload(reason: string): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.reloadOnce(reason);
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
    if (this.again && !this.closed) {
      this.again = false;
      await this.reload(reason);
    }
  }

  private async reloadOnce(reason: string): Promise<void> {
    try {
      const { pair, summary } = await loadCertificate(this.options);
      if (this.closed) return;
      this.options.apply(pair);
      this.current = summary;
      this.log.info({ reason, certFile: this.options.certFile, ...summary }, 'TLS certificate reloaded');
    } catch (err) {
      const code = err instanceof RelaycastError ? err.code : 'RC_TLS_CERT_INVALID';
      this.log.error(
        { reason, code, err: (err as Error).message, keeping: this.current },
        `TLS certificate reload failed: ${(err as Error).message}; keeping the previous certificate (${code})`,
      );
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.debounce);
    unwatchFile(this.options.certFile, this.onFileChange);
    unwatchFile(this.options.keyFile, this.onFileChange);
  }
}
