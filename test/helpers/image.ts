/**
 * The container image's file set and its roles, for test/image*.test.ts: what deploy/Dockerfile
 * copies, and a role started from a given command line until its admin /readyz answers 200.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, freeUdpPort, ROOT, stopProcess, track, waitFor } from './process.ts';

export const DOCKERFILE = join(ROOT, 'deploy', 'Dockerfile');

/** `COPY src... dest` lines of the Dockerfile (no --from stages), sources relative to the context. */
export function dockerfileCopies(
  text = readFileSync(DOCKERFILE, 'utf8'),
): { sources: string[]; dest: string }[] {
  const copies: { sources: string[]; dest: string }[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!/^COPY\s/i.test(line)) continue;
    const words = line.split(/\s+/).slice(1);
    if (words.some((w) => w.startsWith('--')))
      throw new Error(`COPY with flags is not understood here: ${line}`);
    const dest = words.pop();
    if (!dest || words.length === 0) throw new Error(`malformed COPY: ${line}`);
    copies.push({ sources: words, dest });
  }
  return copies;
}

export type ImageRole = 'all' | 'origin' | 'edge' | 'control-plane';

/** Flags that start `role` on free ports on 127.0.0.1 (cluster roles use `redisUrl`). */
export async function roleArgs(
  role: ImageRole,
  redisUrl: string,
): Promise<{ args: string[]; adminPort: number }> {
  const adminPort = await freePort();
  const args = [role, '--host', '127.0.0.1', '--admin-port', String(adminPort), '--node-id', `image-${role}`];
  const port = async (flag: string) => args.push(flag, String(await freePort()));
  if (role === 'all' || role === 'origin' || role === 'edge') await port('--rtmp-port');
  if (role === 'all' || role === 'edge') {
    await port('--http-port');
    // not the default 8189, which a relaycast the developer runs (or another test) may hold
    args.push('--webrtc-udp-port', String(await freeUdpPort()));
  }
  if (role === 'origin') await port('--internal-port');
  if (role === 'all' || role === 'control-plane') await port('--grpc-port');
  if (role !== 'all') args.push('--redis-url', redisUrl);
  return { args, adminPort };
}

export interface StartedRole {
  proc: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

/** Spawns `cmd args` and waits until http://127.0.0.1:adminPort/readyz answers 200. */
export async function startUntilReady(
  cmd: string,
  args: string[],
  adminPort: number,
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<StartedRole> {
  const proc = track(
    spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out = (out + d).slice(-20_000);
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    out = (out + d).slice(-20_000);
  });
  const started: StartedRole = { proc, output: () => out, stop: () => stopProcess(proc) };
  try {
    // waitFor retries on errors, so an exit ends the wait through its own value
    const ready = await waitFor(
      `/readyz on ${adminPort}`,
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null)
          return `exited (${proc.exitCode ?? proc.signalCode})`;
        const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`).catch(() => undefined);
        return res?.status === 200 ? 'ready' : undefined;
      },
      opts.timeoutMs ?? 30_000,
      200,
    );
    if (ready !== 'ready') throw new Error(ready);
  } catch (err) {
    await stopProcess(proc, 'SIGKILL');
    throw new Error(`${[cmd, ...args].join(' ')} never became ready: ${(err as Error).message}\n${out}`);
  }
  return started;
}
