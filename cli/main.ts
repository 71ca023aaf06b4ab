/**
 * `relaycast` command line: starts a role, or talks to a running cluster.
 *
 *   relaycast all|origin|edge|control-plane [flags]
 *   relaycast sign <app>/<name> --ttl 1h --secret S
 *   relaycast channel|stream|node … (admin over gRPC, see admin.ts)
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, parseArgv, ROLES, type Role, renderHelp } from '../core/config.ts';
import { RelaycastError } from '../core/errors.ts';
import { runSign } from './sign.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const VERSION: string = (
  JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')) as { version: string }
).version;

const USAGE = `relaycast ${VERSION} — live-streaming cluster (RTMP in; HTTP-FLV, HLS, RTMP out)

Usage:
  relaycast all [flags]             origin + edge + control plane in one process (no Redis needed)
  relaycast origin [flags]          RTMP ingest, registers streams in Redis, serves edges
  relaycast edge [flags]            viewers: HTTP-FLV, HLS, RTMP play; pulls from origins
  relaycast control-plane [flags]   gRPC routing, backup switching, channels and keys
  relaycast sign <app>/<name> --secret S [--ttl 1h] [--ip A.B.C.D] [--base URL]
                                    print a signed play URL
  relaycast channel create|list|get|delete|reset-key|backup …
                                    channels and publish keys (gRPC admin)
  relaycast stream list|get|kick|switch …
                                    live streams, manual backup switch (gRPC admin)
  relaycast node list|drain|undrain …
                                    cluster nodes and their load (gRPC admin)

Run 'relaycast <role> --help' for the flags of a role. Every flag is also an environment variable
RELAYCAST_<FLAG> and a camelCase key in the YAML file given with --config.`;

/** What each role is, at the top of its --help (the flag list below it is that role's own). */
const ROLE_HELP: Record<Role, string> = {
  all: `origin + edge + control plane in one process. Streams, channels and the leader election live in
this process (an in-memory registry; it is always its own leader): no Redis, no --redis-url, no
--leader-election. Channels are kept in --data-dir across restarts.`,
  origin:
    'RTMP ingest: registers streams in Redis (--redis-url) and serves them to edges on --internal-port.',
  edge: 'Viewers: HTTP-FLV, HLS and RTMP play; pulls each stream from the origin that holds it (--redis-url).',
  'control-plane': `gRPC routing, backup switching, channels and keys. One leader at a time, elected with
--leader-election (a Kubernetes Lease inside a pod, else a lock in Redis).`,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === 'version') {
    console.log(VERSION);
    return 0;
  }
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command ? 0 : 1;
  }
  if ((ROLES as readonly string[]).includes(command)) {
    const role = command as Role;
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(`relaycast ${role} [flags]\n\n${ROLE_HELP[role]}\n\nFlags:\n${renderHelp(role)}`);
      return 0;
    }
    const config = loadConfig(role, parseArgv(rest, role).flags);
    const { runRole } = await import('./run.ts');
    return runRole(config, VERSION);
  }
  if (command === 'sign') return runSign(rest);
  if (command === 'channel' || command === 'stream' || command === 'node') {
    const { runAdmin } = await import('./admin.ts');
    return runAdmin(command, rest);
  }
  console.error(`relaycast: unknown command '${command}'\n\n${USAGE}`);
  return 2;
}

/** Runs the command line and sets the exit code (the bin wrapper calls this too). */
export function runCli(argv: string[]): void {
  main(argv).then(
    (code) => {
      if (code !== -1) process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof RelaycastError) {
        console.error(`relaycast: ${err.message} (${err.code})`);
        process.exitCode = 2;
      } else {
        console.error(err);
        process.exitCode = 1;
      }
    },
  );
}

// `node cli/main.ts …` (npm scripts, tests). The bin wrapper imports this module
// under another argv[1] (e.g. node_modules/.bin/relaycast) and calls runCli itself.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) runCli(process.argv.slice(2));
