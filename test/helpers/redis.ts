/** A real redis-server on a random port, for tests. Killed by PID. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopProcess, track, waitFor } from './process.ts';

export interface RedisServer {
  port: number;
  url: string;
  proc: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts a fresh server on the same port (data is gone, like a crashed Redis without persistence). */
  restart(): Promise<void>;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' }, () => s.write('PING\r\n'));
    s.setTimeout(500, () => {
      s.destroy();
      resolve(false);
    });
    s.on('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    s.on('error', () => resolve(false));
  });
}

/** bind: addresses to listen on (default only 127.0.0.1; 127.0.0.1 must stay in the list). */
export async function startRedis(port?: number, bind: string[] = ['127.0.0.1']): Promise<RedisServer> {
  const p = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'relaycast-redis-'));
  const launch = async () => {
    const proc = track(
      spawn(
        'redis-server',
        ['--port', String(p), '--bind', ...bind, '--save', '', '--appendonly', 'no', '--dir', dir],
        {
          stdio: 'ignore',
        },
      ),
    );
    await waitFor(`redis-server on ${p}`, async () => ((await ping(p)) ? true : undefined), 10_000, 50);
    return proc;
  };
  const server: RedisServer = {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    proc: await launch(),
    async stop(signal = 'SIGKILL') {
      await stopProcess(server.proc, signal);
      if (signal !== 'SIGKILL') rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await stopProcess(server.proc, 'SIGKILL');
      server.proc = await launch();
    },
  };
  return server;
}
