/** Every bench script answers --help with its usage (exit 0) and an unknown flag with one line (exit 2). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const BENCH = join(import.meta.dirname, '..', 'bench');
const SCRIPTS = [
  'all',
  'run',
  'ingest',
  'sources',
  'failover',
  'hls-latency',
  'llhls-latency',
  'llhls-swarm',
  'publish-swarm',
  'swarm',
  'profile-summary',
];

describe('bench command lines', () => {
  for (const script of SCRIPTS)
    it(`${script}.ts --help prints usage; --bogus is a one-line error`, () => {
      const file = join(BENCH, `${script}.ts`);
      const help = spawnSync(process.execPath, [file, '--help'], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, /bench\/|npm run bench/);
      assert.match(help.stdout, /--help/);
      const bad = spawnSync(process.execPath, [file, '--bogus'], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(bad.status, 2);
      assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
      assert.match(bad.stderr, /--bogus.*see --help/);
    });
});
