/**
 * Multicast channel sources (issue 16) inside a network namespace this test creates: ffmpeg sends
 * MPEG-TS to a group on the namespace's loopback, the all-in-one joins it (any-source, and
 * source-specific with ?source=), and ffprobe inside the namespace reads HTTP-FLV. A sender on
 * another group with the same port must not leak in. Needs root; skipped otherwise, saying why.
 * Everything it creates (the namespace) is removed afterwards.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  freePort,
  killAll,
  type RelaycastProcess,
  run,
  startRelaycast,
  stopProcess,
  track,
  waitFor,
} from './helpers/process.ts';

const NS = `rcmc${process.pid}`;

function ip(...args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}
function mustIp(...args: string[]): void {
  const r = ip(...args);
  if (!r.ok) throw new Error(`ip ${args.join(' ')} failed: ${r.out}`);
}

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'needs root to create a network namespace';
  const probe = `${NS}p`;
  const add = ip('netns', 'add', probe);
  if (!add.ok) return `ip netns add failed: ${add.out.trim()}`;
  ip('netns', 'del', probe);
  return undefined;
}

function teardown(): void {
  if (
    ip('netns', 'list')
      .out.split('\n')
      .some((l) => l.split(' ')[0] === NS)
  )
    ip('netns', 'del', NS);
}

const inNs = ['ip', 'netns', 'exec', NS];

function sendMulticast(group: string, port: number, seconds: number) {
  return track(
    spawn(
      inNs[0]!,
      [
        ...inNs.slice(1),
        'ffmpeg',
        '-v',
        'error',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=256x144:rate=25',
        '-f',
        'lavfi',
        '-i',
        'sine=sample_rate=48000',
        '-t',
        String(seconds),
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-g',
        '25',
        '-pix_fmt',
        'yuv420p',
        '-c:a',
        'aac',
        '-f',
        'mpegts',
        `udp://${group}:${port}?localaddr=127.0.0.1&ttl=1&pkt_size=1316`,
      ],
      { stdio: 'ignore' },
    ),
  );
}

async function probeInNs(url: string): Promise<string[]> {
  const r = await run(
    inNs[0]!,
    [
      ...inNs.slice(1),
      'ffprobe',
      '-v',
      'error',
      '-show_streams',
      '-of',
      'json',
      '-rw_timeout',
      '10000000',
      url,
    ],
    30_000,
  );
  if (r.code !== 0) throw new Error(`ffprobe failed: ${r.stderr}`);
  return (JSON.parse(r.stdout).streams as Record<string, unknown>[])
    .map((s) => `${s.codec_name}${s.width ? ` ${s.width}x${s.height}` : ''}`)
    .sort();
}

const skip = skipReason();

describe('multicast channel sources in a network namespace', {
  timeout: 240_000,
  skip: skip ?? false,
}, () => {
  let node: RelaycastProcess;
  let dir: string;
  let port = 0;
  before(async () => {
    teardown();
    mustIp('netns', 'add', NS);
    mustIp('-n', NS, 'link', 'set', 'lo', 'up');
    mustIp('-n', NS, 'link', 'set', 'lo', 'multicast', 'on');
    mustIp('-n', NS, 'route', 'add', '224.0.0.0/4', 'dev', 'lo');
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'rc-mc-'));
    const config = join(dir, 'relaycast.yaml');
    writeFileSync(
      config,
      [
        'sources:',
        `  - { name: asm, url: "udp://239.255.7.1:${port}" }`,
        `  - { name: ssm, url: "udp://239.255.7.2:${port}?source=127.0.0.1" }`,
        '',
      ].join('\n'),
    );
    node = await startRelaycast(
      'all',
      ['--config', config, '--source-interface', '127.0.0.1'],
      {},
      undefined,
      { prefix: inNs },
    );
  });
  after(async () => {
    await node?.stop();
    await killAll();
    teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('joins an any-source group and a source-specific group; other groups on the same port stay out', async () => {
    const a = sendMulticast('239.255.7.1', port, 40);
    const b = sendMulticast('239.255.7.2', port, 40);
    const other = sendMulticast('239.255.7.3', port, 40);
    try {
      for (const name of ['asm', 'ssm']) {
        const streams = await waitFor(
          `${name} live`,
          () => probeInNs(`http://127.0.0.1:${node.ports.http}/live/${name}.flv`),
          90_000,
          1000,
        );
        assert.deepEqual(streams, ['aac', 'h264 256x144']);
      }
      const metrics = await run(inNs[0]!, [
        ...inNs.slice(1),
        'curl',
        '-sf',
        `http://127.0.0.1:${node.ports.admin}/api/v1/sources`,
      ]);
      const list = JSON.parse(metrics.stdout).sources as {
        name: string;
        state: string;
        ccErrors: number;
        syncLosses: number;
        datagrams: number;
        packets: number;
      }[];
      for (const s of list) {
        assert.equal(s.state, 'receiving', JSON.stringify(s));
        // a leak from 239.255.7.3 would interleave a second transport stream: CC errors and PMT churn
        assert.equal(s.ccErrors, 0, JSON.stringify(s));
      }
    } finally {
      for (const p of [a, b, other]) await stopProcess(p, 'SIGKILL');
    }
  });
});
