/**
 * A small, fast run of the benchmark's viewer swarm (200 HTTP-FLV viewers for 5 s), asserting
 * correctness only: all connect, none fail or stall, all start on a keyframe. Figures: npm run bench.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  killAll,
  NODE,
  publish,
  type RelaycastProcess,
  ROOT,
  run,
  startRelaycast,
  waitFor,
} from './helpers/process.ts';

describe('viewer swarm (correctness)', { timeout: 120_000 }, () => {
  let rc: RelaycastProcess;
  before(async () => {
    rc = await startRelaycast('all');
    publish(`rtmp://127.0.0.1:${rc.ports.rtmp}/live/swarm`, { size: '640x360' });
    await waitFor(
      'stream live',
      async () =>
        (await fetch(`http://127.0.0.1:${rc.ports.http}/live/swarm.flv`, { method: 'HEAD' })).ok
          ? true
          : undefined,
      20_000,
      200,
    );
  });
  after(async () => {
    await killAll();
  });

  it('200 viewers for 5 s: all connect, none stalled, all start on a keyframe', async () => {
    const r = await run(
      NODE,
      [
        join(ROOT, 'bench', 'swarm.ts'),
        '--url',
        `http://127.0.0.1:${rc.ports.http}/live/swarm.flv`,
        '--viewers',
        '200',
        '--ramp',
        '1',
        '--duration',
        '5',
      ],
      60_000,
    );
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
    assert.equal(res.connected, 200);
    assert.equal(res.failed, 0);
    assert.equal(res.stalled, 0);
    assert.equal(res.startedOnKeyframe, 200);
  });
});
