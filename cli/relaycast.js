#!/usr/bin/env node
// npm `bin` entry. relaycast is TypeScript run directly by Node 24 (type stripping). When this is
// started by an older Node (e.g. a system Node 20), re-run it with the project's pinned node@24,
// forwarding signals so Ctrl-C and SIGTERM still stop it cleanly.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  // argv[1] is this wrapper (often through a node_modules/.bin symlink), so main.ts does not see
  // itself as the entry point: run it explicitly.
  const { runCli } = await import(join(here, 'main.ts'));
  runCli(process.argv.slice(2));
} else {
  let node;
  try {
    node = join(dirname(createRequire(import.meta.url).resolve('node/package.json')), 'bin', 'node');
  } catch {
    console.error(
      `relaycast needs Node.js 24 or newer (this is ${process.version}); run 'npm install' to get the pinned node@24`,
    );
    process.exit(1);
  }
  const child = spawn(node, [join(here, 'main.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
