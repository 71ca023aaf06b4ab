/**
 * `npm run proto:check` (part of `npm test`): regenerates the TypeScript types from the .proto
 * files into a temporary directory and fails if they differ from proto/gen/ — an edited .proto
 * without `npm run proto:gen` must not land.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PROTO_DIR } from './client.ts';

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else out.push(p);
  }
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), 'relaycast-proto-'));
try {
  const script = JSON.parse(readFileSync(join(PROTO_DIR, '..', 'package.json'), 'utf8')).scripts[
    'proto:gen'
  ] as string;
  // Same command as proto:gen, with the output directory swapped.
  const args = script
    .replace(/^.*?proto-loader-gen-types\s+/, '')
    .split(/\s+/)
    .map((a) => (a === 'proto/gen' ? tmp : a));
  execFileSync(join(PROTO_DIR, '..', 'node_modules', '.bin', 'proto-loader-gen-types'), args, {
    cwd: join(PROTO_DIR, '..'),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const committed = join(PROTO_DIR, 'gen');
  const want = new Map(files(tmp).map((f) => [relative(tmp, f), readFileSync(f, 'utf8')]));
  const have = new Map(files(committed).map((f) => [relative(committed, f), readFileSync(f, 'utf8')]));
  const problems: string[] = [];
  for (const [f, text] of want) {
    if (!have.has(f)) problems.push(`missing: proto/gen/${f}`);
    else if (have.get(f) !== text) problems.push(`out of date: proto/gen/${f}`);
  }
  for (const f of have.keys()) if (!want.has(f)) problems.push(`stale: proto/gen/${f}`);
  if (problems.length) {
    console.error(
      `proto:check: generated types differ from the .proto files:\n  ${problems.join('\n  ')}\nrun: npm run proto:gen`,
    );
    process.exitCode = 1;
  } else console.log(`proto:check: proto/gen matches the .proto files (${want.size} files)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
