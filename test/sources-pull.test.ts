/**
 * Pull sources (issue 16): relaycast B feeds three channels from relaycast A's stream over HTTP-FLV,
 * RTMP and HLS; ffprobe on B shows each with A's codecs and size. A's broadcaster stops and comes
 * back: B's sources reconnect by themselves and play again. A fourth channel pulls over HLS from
 * B's YAML `sources:`. A channel pulling its own stream is refused; one pulling a stream A does not
 * have keeps retrying.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  CLI,
  ffprobe,
  getJson,
  killAll,
  NODE,
  publish,
  run,
  startRelaycast,
  waitFor,
} from './helpers/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'rc-pull-'));
after(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

interface SourceInfo {
  name: string;
  state: string;
  reconnects: number;
  video?: string;
  audio?: string;
}

describe('pull sources: HTTP-FLV, RTMP and HLS from another server', { timeout: 300_000 }, () => {
  it('B plays A’s stream through each kind of pull, and reconnects when A’s broadcaster returns', async () => {
    const a = await startRelaycast('all');
    const config = join(dir, 'relaycast.yaml');
    writeFileSync(
      config,
      `sources:\n  - { name: from-yaml, url: "http://127.0.0.1:${a.ports.http}/live/up.ts.m3u8" }\n`,
    );
    const b = await startRelaycast('all', ['--source-silence-timeout', '3', '--config', config]);
    let pub = publish(`rtmp://127.0.0.1:${a.ports.rtmp}/live/up`, { size: '320x240', rate: 25, gop: 25 });
    await waitFor(
      'A live with HLS',
      async () =>
        (await fetch(`http://127.0.0.1:${a.ports.http}/live/up.ts.m3u8`)).status === 200 ? true : undefined,
      60_000,
      300,
    );
    const cli = (...args: string[]) =>
      run(NODE, [CLI, ...args, '--control-plane', `127.0.0.1:${b.ports.grpc}`], 60_000);
    const upstream = {
      flv: `http://127.0.0.1:${a.ports.http}/live/up.flv`,
      rtmp: `rtmp://127.0.0.1:${a.ports.rtmp}/live/up`,
      hls: `http://127.0.0.1:${a.ports.http}/live/up.ts.m3u8`,
    };
    for (const [kind, url] of Object.entries(upstream)) {
      const r = await cli('channel', 'create', `from-${kind}`, '--source', url);
      assert.equal(r.code, 0, r.stderr);
    }
    // A stream A does not have: the pull must keep retrying (never hang on a quiet connection).
    const absent = await cli(
      'channel',
      'create',
      'from-absent',
      '--source',
      `rtmp://127.0.0.1:${a.ports.rtmp}/live/absent`,
    );
    assert.equal(absent.code, 0, absent.stderr);
    const loop = await cli(
      'channel',
      'create',
      'self',
      '--source',
      `http://127.0.0.1:${b.ports.http}/live/self.flv`,
    );
    assert.notEqual(loop.code, 0);
    assert.match(loop.stderr, /cannot pull its own stream/);

    const sources = async () =>
      (await getJson<{ sources: SourceInfo[] }>(`http://127.0.0.1:${b.ports.admin}/api/v1/sources`)).body
        .sources;
    const plays = (what: string) =>
      waitFor(
        what,
        async () => {
          for (const kind of [...Object.keys(upstream), 'yaml']) {
            const probe = await ffprobe(`http://127.0.0.1:${b.ports.http}/live/from-${kind}.flv`).catch(
              () => undefined,
            );
            const v = probe?.streams.find((s) => s.codec_type === 'video');
            const au = probe?.streams.find((s) => s.codec_type === 'audio');
            if (v?.codec_name !== 'h264' || v.width !== 320 || au?.codec_name !== 'aac') return undefined;
          }
          return true;
        },
        90_000,
        1000,
      );
    await plays('B plays all three pulls');
    const first = (await sources()).filter((s) => s.name !== 'from-absent');
    assert.deepEqual(first.map((s) => [s.name, s.state, s.video, s.audio]).sort(), [
      ['from-flv', 'receiving', 'h264', 'aac'],
      ['from-hls', 'receiving', 'h264', 'aac'],
      ['from-rtmp', 'receiving', 'h264', 'aac'],
      ['from-yaml', 'receiving', 'h264', 'aac'],
    ]);

    await waitFor(
      'the pull of an absent stream to retry',
      async () => {
        const s = (await sources()).find((x) => x.name === 'from-absent');
        return s && s.reconnects >= 1 && s.state === 'waiting' ? true : undefined;
      },
      60_000,
      500,
    );

    await pub.stop();
    await waitFor(
      'the pulls to notice',
      async () => ((await sources()).every((s) => s.state !== 'receiving') ? true : undefined),
      60_000,
      500,
    );
    pub = publish(`rtmp://127.0.0.1:${a.ports.rtmp}/live/up`, { size: '320x240', rate: 25, gop: 25 });
    await plays('B plays again after A came back');
    for (const s of await sources()) assert.ok(s.reconnects >= 1, `${s.name} reconnected (${s.reconnects})`);
    await pub.stop();
  });
});
