/**
 * The npm bin (`cli/relaycast.js`) as users run it: through a node_modules/.bin-style symlink with
 * Node 24 first on PATH (what `npx relaycast` does), and with an older system Node, which re-runs
 * it on the pinned node@24.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'cli', 'relaycast.js');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('relaycast bin', () => {
  it('runs through a .bin symlink with Node 24 on PATH (npx relaycast)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-bin-'));
    try {
      const link = join(dir, 'relaycast');
      symlinkSync(BIN, link);
      const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` };
      const version = spawnSync(link, ['--version'], { env, encoding: 'utf8', timeout: 30_000 });
      assert.equal(version.status, 0, version.stderr);
      assert.equal(version.stdout.trim(), VERSION);
      const help = spawnSync(link, ['channel', '--help'], { env, encoding: 'utf8', timeout: 30_000 });
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, /relaycast channel create NAME/);
      const bad = spawnSync(link, ['frobnicate'], { env, encoding: 'utf8', timeout: 30_000 });
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /unknown command 'frobnicate'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an older system Node re-runs it on the pinned Node 24', (t) => {
    const system = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p));
    const major = system
      ? Number(spawnSync(system, ['-p', 'process.versions.node']).stdout.toString().split('.')[0])
      : 0;
    if (!system || major >= 24) {
      t.skip('no Node older than 24 on this machine');
      return;
    }
    const r = spawnSync(system, [BIN, '--version'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), VERSION);
  });
});
