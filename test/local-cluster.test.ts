/**
 * `npm run cluster` (deploy/cluster.ts) as a user runs it: the launcher starts redis, a control
 * plane, 2 origins and 2 edges; `kill -9` of origin-1 leaves the rest running, an edge viewer
 * continues on the same connection once the broadcaster republishes to origin-2, `--restart
 * origin-1` brings it back, and SIGTERM to the launcher stops every child it started.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ClusterState } from '../deploy/supervisor.ts';
import { isVideoSequenceHeader, type MediaTag, TAG_AUDIO, TAG_VIDEO } from '../media/tag.ts';
import { assertMonotonic, type FlvRead, openFlv } from './helpers/flv-client.ts';
import { killAll, NODE, publish, ROOT, stopProcess, track, waitFor } from './helpers/process.ts';

const LAUNCHER = join(ROOT, 'deploy', 'cluster.ts');
// every port deploy/cluster.ts opens, before the offset
const BASE_PORTS = [
  6390, 50051, 9095, 1935, 1936, 8081, 8082, 9091, 9092, 8080, 8090, 1945, 1946, 9093, 9094,
];

const isKeyframe = (t: MediaTag) =>
  t.type === TAG_VIDEO && t.data[0]! >> 4 === 1 && !isVideoSequenceHeader(t.data);

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** An offset (as RELAYCAST_CLUSTER_PORT_OFFSET) under which every cluster port is free right now. */
async function freeOffset(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // 50051 + offset must stay a valid port
    const offset = 1000 + Math.floor(Math.random() * 14_000);
    const free = await Promise.all(BASE_PORTS.map((p) => portFree(p + offset)));
    if (free.every(Boolean)) return offset;
  }
  throw new Error('no port offset with all 15 cluster ports free after 50 attempts');
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm run cluster: a local cluster you can break on purpose', { timeout: 300_000 }, () => {
  let dataDir: string;
  let offset: number;
  let env: NodeJS.ProcessEnv;
  let launcher: ChildProcess;
  let out = '';
  let err = '';
  const port = (p: number) => p + offset;
  const state = () => JSON.parse(readFileSync(join(dataDir, 'cluster.json'), 'utf8')) as ClusterState;
  const pidOf = (name: string) => state().nodes.find((n) => n.name === name)!.pid!;
  const readyz = async (adminPort: number) => {
    try {
      const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`, { signal: AbortSignal.timeout(3000) });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  };
  /** `node deploy/cluster.ts <args>` run to completion (bounded) against the same data dir. */
  const cli = async (args: string[]) => {
    const p = track(spawn(NODE, [LAUNCHER, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
    let output = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    p.stderr!.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), 90_000);
    const [code] = (await once(p, 'exit')) as [number | null];
    clearTimeout(timer);
    return { code, output };
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'relaycast-local-cluster-'));
    offset = await freeOffset();
    env = {
      ...process.env,
      RELAYCAST_CLUSTER_DATA_DIR: dataDir,
      RELAYCAST_CLUSTER_PORT_OFFSET: String(offset),
      RELAYCAST_CLUSTER_VERBOSE: '',
    };
    launcher = track(
      spawn(NODE, [LAUNCHER, '--fresh'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    launcher.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    launcher.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    await waitFor(
      'the launcher to print its URLs',
      () => {
        if (launcher.exitCode !== null) throw new Error(`launcher exited ${launcher.exitCode}: ${err}`);
        return out.includes('relaycast local cluster is up') ? true : undefined;
      },
      90_000,
      200,
    );
  });
  after(async () => {
    // anything the launcher left behind (only if an assertion failed before its SIGTERM), by PID
    try {
      for (const n of state().nodes) if (n.pid && alive(n.pid)) process.kill(n.pid, 'SIGKILL');
    } catch {
      /* the launcher removed cluster.json: nothing left */
    }
    await killAll();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('--help exits 0, an unknown flag exits 2, --restart of an unknown node names the valid ones', async () => {
    const help = await cli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.output, /--restart <node>/);
    const bad = await cli(['--no-such-flag']);
    assert.equal(bad.code, 2);
    assert.match(bad.output, /unknown flag '--no-such-flag'.*RC_CONFIG_INVALID/);
    const unknown = await cli(['--restart', 'origin-9']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.output, /unknown node 'origin-9'; the nodes are: redis, control-plane-1, origin-1/);
    assert.match(out, new RegExp(`data in ${dataDir}/redis`), 'prints the Redis data directory');
  });

  it('kill -9 of origin-1 keeps the rest running; the edge viewer continues after republishing to origin-2; --restart brings origin-1 back; SIGTERM stops all', async () => {
    const rtmp = (p: number) => `rtmp://127.0.0.1:${port(p)}/live/demo`;
    const pubOpts = { size: '320x240', rate: 25, gop: 25 };
    const first = publish(rtmp(1935), pubOpts);
    const edgeFlv = `http://127.0.0.1:${port(8080)}/live/demo.flv`;
    const read = await waitFor<FlvRead>(
      'edge-1 to serve the stream',
      async () => {
        const r = await openFlv(edgeFlv);
        if (r.status === 200) return r;
        r.close();
        return undefined;
      },
      30_000,
      250,
    );
    let ended = false;
    void read.done.then(() => {
      ended = true;
    });
    await waitFor(
      'keyframes before the kill',
      () => read.tags.filter(isKeyframe).length >= 2 || undefined,
      30_000,
    );

    const origin1 = pidOf('origin-1');
    process.kill(origin1, 'SIGKILL');
    await first.stop('SIGKILL'); // the broadcaster lost its origin
    await waitFor(
      'the launcher to report the death',
      () => err.includes('[origin-1] exited (SIGKILL); the rest of the cluster keeps running') || undefined,
      15_000,
    );
    assert.match(err, /restart it with: npm run cluster -- --restart origin-1/);
    assert.equal(launcher.exitCode, null, 'the launcher keeps running');
    assert.ok(await readyz(port(9093)), 'edge-1 still answers /readyz');
    assert.ok(alive(pidOf('origin-2')), 'origin-2 still runs');

    const tagsBefore = read.tags.length;
    const bytesBefore = read.bytes;
    publish(rtmp(1936), pubOpts);
    await waitFor(
      'a new keyframe from origin-2 on the same viewer connection',
      () => read.tags.slice(tagsBefore).some(isKeyframe) || undefined,
      60_000,
      100,
    );
    await waitFor('more media', () => read.tags.length > tagsBefore + 100 || undefined, 30_000);
    assert.ok(read.bytes > bytesBefore, 'bytes keep arriving after the switch');
    assert.equal(ended, false, 'the viewer connection was never closed');
    read.close();
    assertMonotonic(read.tags, TAG_VIDEO, 'video');
    assertMonotonic(read.tags, TAG_AUDIO, 'audio');

    const restarted = await cli(['--restart', 'origin-1']);
    assert.equal(restarted.code, 0, restarted.output);
    assert.match(restarted.output, /origin-1 restarted \(pid \d+\) and ready/);
    assert.notEqual(pidOf('origin-1'), origin1);
    assert.ok(await readyz(port(9091)), 'origin-1 answers /readyz again');
    assert.equal(launcher.exitCode, null);

    const pids = state().nodes.map((n) => n.pid!);
    assert.equal(pids.length, 6);
    const exited = once(launcher, 'exit');
    launcher.kill('SIGTERM');
    const timer = setTimeout(() => launcher.kill('SIGKILL'), 30_000); // bounded, and fails below
    const [code] = (await exited) as [number | null];
    clearTimeout(timer);
    assert.equal(code, 0);
    await waitFor('every child gone', () => pids.every((pid) => !alive(pid)) || undefined, 10_000);
    const left = await cli(['--restart', 'origin-1']);
    assert.equal(left.code, 1);
    assert.match(left.output, /no cluster is running/);
    await stopProcess(launcher);
  });
});
