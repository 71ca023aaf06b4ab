/**
 * Builds the real image from deploy/Dockerfile and starts roles inside it until /readyz answers.
 *
 * No Docker engine exists here, so: a Debian rootfs from mmdebstrap (Debian's packages), imported
 * with podman, carries the npm package's Node 24 (the same binary npm scripts run on) and the host's
 * npm as the local base (`--build-arg BASE=`); `buildah bud --isolation chroot` builds the image and
 * `buildah run --isolation chroot` runs each role (chroot isolation shares the host's network, so
 * /readyz is reached on 127.0.0.1). The base is kept in local storage under a tag naming the Node
 * version, so a second run skips mmdebstrap. Needs root, buildah, podman and mmdebstrap (.ci/
 * install-deps.sh installs them); skipped otherwise, with the reason in the skip list.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DOCKERFILE, type ImageRole, roleArgs, type StartedRole, startUntilReady } from './helpers/image.ts';
import { killAll, NODE, ROOT } from './helpers/process.ts';
import { type RedisServer, startRedis } from './helpers/redis.ts';

const exec = promisify(execFile);

function which(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'building the image needs root (buildah --isolation chroot)';
  const missing = ['buildah', 'podman', 'mmdebstrap'].filter((c) => !which(c));
  if (missing.length)
    return `${missing.join(', ')} not installed (apt-get install buildah podman mmdebstrap)`;
  return false;
}

const skip = skipReason();
const NODE_VERSION = process.version; // the pinned node@24 that runs this test
const BASE = `localhost/relaycast-test-base:${NODE_VERSION}`;
const IMAGE = `localhost/relaycast-test:${process.pid}`;

async function run(cmd: string, args: string[], timeoutMs = 600_000): Promise<string> {
  const { stdout } = await exec(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

async function imageExists(name: string): Promise<boolean> {
  return run('buildah', ['inspect', '--type', 'image', name]).then(
    () => true,
    () => false,
  );
}

/** Debian rootfs + Node 24 + npm (+ the host's extra CA bundle, which npm needs behind a TLS proxy). */
async function buildBase(): Promise<void> {
  if (await imageExists(BASE)) return;
  const dir = mkdtempSync(join(tmpdir(), 'relaycast-rootfs-'));
  const rootfsTag = `localhost/relaycast-test-rootfs:${process.pid}`;
  let ctr: string | undefined;
  try {
    const tar = join(dir, 'rootfs.tar');
    // libstdc++ for node; passwd for the Dockerfile's useradd; CA certificates for npm
    await run('mmdebstrap', [
      '--quiet',
      '--variant=essential',
      '--include=libstdc++6,ca-certificates,passwd',
      'bookworm',
      tar,
    ]);
    await run('podman', ['import', '--quiet', tar, rootfsTag]);
    ctr = await run('buildah', ['from', '--quiet', rootfsTag]);
    await run('buildah', ['copy', '--quiet', ctr, realpathSync(NODE), '/usr/local/bin/node']);
    const npmDir = dirname(
      dirname(realpathSync(execFileSync('sh', ['-c', 'command -v npm']).toString().trim())),
    );
    await run('buildah', ['copy', '--quiet', ctr, npmDir, '/usr/local/lib/node_modules/npm']);
    const extraCa = process.env.NODE_EXTRA_CA_CERTS;
    if (extraCa && existsSync(extraCa)) {
      await run('buildah', ['copy', '--quiet', ctr, extraCa, '/usr/local/share/relaycast-extra-ca.crt']);
      await run('buildah', [
        'config',
        '--env',
        'NODE_EXTRA_CA_CERTS=/usr/local/share/relaycast-extra-ca.crt',
        ctr,
      ]);
    }
    await run('buildah', [
      'run',
      '--isolation',
      'chroot',
      ctr,
      '--',
      'sh',
      '-c',
      'ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && node --version && npm --version',
    ]);
    await run('buildah', ['commit', '--quiet', ctr, BASE]);
  } finally {
    if (ctr) await run('buildah', ['rm', ctr]).catch(() => {});
    await run('buildah', ['rmi', rootfsTag]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the real image (buildah bud of deploy/Dockerfile) runs every role', {
  skip,
  timeout: 900_000,
}, () => {
  let redis: RedisServer;
  const containers: string[] = [];

  before(async () => {
    await buildBase();
    await run('buildah', [
      'bud',
      '--quiet',
      '--isolation',
      'chroot',
      '--build-arg',
      `BASE=${BASE}`,
      '-f',
      DOCKERFILE,
      '-t',
      IMAGE,
      ROOT,
    ]);
    redis = await startRedis();
  });

  after(async () => {
    await killAll();
    for (const c of containers) await run('buildah', ['rm', c]).catch(() => {});
    await run('buildah', ['rmi', IMAGE]).catch(() => {});
  });

  it('runs as the non-root user 10001 with the data volume', async () => {
    const user = await run('buildah', [
      'inspect',
      '--type',
      'image',
      '--format',
      '{{.OCIv1.Config.User}}',
      IMAGE,
    ]);
    assert.equal(user, '10001:10001');
  });

  for (const role of ['all', 'origin', 'edge', 'control-plane'] as ImageRole[]) {
    it(`starts ${role} inside the image until /readyz answers 200`, async () => {
      const ctr = await run('buildah', [
        'from',
        '--quiet',
        '--name',
        `relaycast-test-${role}-${process.pid}`,
        IMAGE,
      ]);
      containers.push(ctr);
      const { args, adminPort } = await roleArgs(role, redis.url);
      // the image's ENTRYPOINT is `node /app/cli/main.ts`; buildah run takes the whole command
      let started: StartedRole | undefined;
      try {
        started = await startUntilReady(
          'buildah',
          ['run', '--isolation', 'chroot', ctr, '--', 'node', '/app/cli/main.ts', ...args],
          adminPort,
          { timeoutMs: 60_000 },
        );
        assert.doesNotMatch(started.output(), /ERR_MODULE_NOT_FOUND/);
      } finally {
        await started?.stop();
      }
    });
  }
});
