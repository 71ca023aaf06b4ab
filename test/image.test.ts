/**
 * The image's own file set starts every role. deploy/Dockerfile's COPY lines are laid out in a
 * temporary directory exactly as the image has them, production dependencies are installed as the
 * Dockerfile installs them, and each role is started from there until /readyz answers 200. A
 * folder the roles import but the Dockerfile forgets fails here (ERR_MODULE_NOT_FOUND), not in a
 * deployment. test/image-build.test.ts builds and runs the real image.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { dockerfileCopies, type ImageRole, roleArgs, startUntilReady } from './helpers/image.ts';
import { killAll, NODE, ROOT } from './helpers/process.ts';
import { type RedisServer, startRedis } from './helpers/redis.ts';

const exec = promisify(execFile);

describe('the image file set (deploy/Dockerfile COPY lines) starts every role', { timeout: 300_000 }, () => {
  const app = mkdtempSync(join(tmpdir(), 'relaycast-image-'));
  let redis: RedisServer;

  before(async () => {
    const copies = dockerfileCopies();
    assert.ok(copies.length > 0, 'the Dockerfile has COPY lines');
    for (const { sources, dest } of copies) {
      for (const src of sources) {
        assert.ok(!src.includes('..'), `COPY source stays in the context: ${src}`);
        // `COPY a b ./` puts files into ./; `COPY dir ./dir` copies the folder's contents to ./dir
        const target = dest.endsWith('/') ? join(app, dest, src) : join(app, dest);
        cpSync(join(ROOT, src), target, {
          recursive: true,
          filter: (p) => !p.endsWith('.test.ts') && !p.includes('node_modules'),
        });
      }
    }
    // The Dockerfile's install step: production dependencies from the lockfile, no install scripts.
    await exec('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: app,
      timeout: 240_000,
      env: { ...process.env, NODE_ENV: 'production' },
    });
    redis = await startRedis();
  });

  after(async () => {
    await killAll();
    rmSync(app, { recursive: true, force: true });
  });

  it('has the sources and production dependencies laid out', () => {
    assert.ok(existsSync(join(app, 'cli', 'main.ts')));
    assert.ok(existsSync(join(app, 'node_modules', 'ioredis')), 'production dependencies installed');
    assert.ok(!existsSync(join(app, 'node_modules', 'typescript')), 'no dev dependencies');
  });

  for (const role of ['all', 'origin', 'edge', 'control-plane'] as ImageRole[]) {
    it(`starts ${role} until /readyz answers 200`, async () => {
      const { args, adminPort } = await roleArgs(role, redis.url);
      const dataDir = mkdtempSync(join(tmpdir(), 'relaycast-image-data-'));
      const started = await startUntilReady(NODE, [join(app, 'cli', 'main.ts'), ...args], adminPort, {
        cwd: app,
        env: { NODE_ENV: 'production', RELAYCAST_DATA_DIR: dataDir },
      });
      await started.stop();
      rmSync(dataDir, { recursive: true, force: true });
      assert.doesNotMatch(started.output(), /ERR_MODULE_NOT_FOUND/);
    });
  }
});
