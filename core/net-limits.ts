import type { Server } from 'node:net';

/** Listens and resolves with the bound port (useful when port is 0); rejects on EADDRINUSE etc. */
export async function listenOn(
  server: Server,
  port: number,
  host: string,
  /** SO_REUSEPORT: --workers threads each listen on the viewer port; the kernel spreads connections */
  reusePort = false,
): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A deep accept queue: a reconnect storm (thousands of viewers after an outage) must queue,
    // not be reset by the kernel (Node's default backlog is 511; the kernel caps it at somaxconn).
    server.listen({ port, host, backlog: 4096, ...(reusePort ? { reusePort } : {}) }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : port;
}

/** Concurrent connections per client IP (0 = unlimited). */
export class ConnectionLimiter {
  private readonly max: number;
  private readonly counts = new Map<string, number>();
  constructor(max: number) {
    this.max = max;
  }
  acquire(ip: string): boolean {
    const n = this.counts.get(ip) ?? 0;
    if (this.max > 0 && n >= this.max) return false;
    this.counts.set(ip, n + 1);
    return true;
  }
  release(ip: string): void {
    const n = (this.counts.get(ip) ?? 1) - 1;
    if (n <= 0) this.counts.delete(ip);
    else this.counts.set(ip, n);
  }
}
