/**
 * Backup switching in the all-in-one (issue 16, "one switching rule for both"): a channel with a
 * backup publisher, and one with a backup MPEG-TS source. Viewers of the channel stay on one
 * HTTP-FLV connection while the primary stops (the switcher moves them to the backup) and comes
 * back (they revert after --revert-after); HLS and a manual `stream switch` follow too.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { TAG_VIDEO } from '../media/tag.ts';
import { assertMonotonic, openFlv } from './helpers/flv-client.ts';
import {
  CLI,
  freePort,
  killAll,
  NODE,
  publish,
  type RelaycastProcess,
  run,
  startRelaycast,
  videoWidth,
  waitFor,
} from './helpers/process.ts';
import { sendTs } from './helpers/ts-sender.ts';

after(killAll);

describe('backup switching in the all-in-one', { timeout: 300_000 }, () => {
  let rc: RelaycastProcess;
  const cli = (...args: string[]) =>
    run(NODE, [CLI, ...args, '--control-plane', `127.0.0.1:${rc.ports.grpc}`], 60_000);
  const activeRole = async (name: string) => {
    const r = await fetch(`http://127.0.0.1:${rc.ports.admin}/api/v1/channels/live/${name}`);
    return ((await r.json()) as { activeRole: string }).activeRole;
  };
  const shows = (what: string, url: string, w: number) =>
    waitFor(what, async () => ((await videoWidth(url)) === w ? true : undefined), 60_000, 500);

  it('publishers: the viewer moves to the backup when the primary stops, back when it returns; HLS and stream switch follow', async () => {
    rc = await startRelaycast('all', ['--publish-auth', 'keys']);
    const created = await cli('channel', 'create', 'studio', '--backup', '--revert-after', '2', '--json');
    assert.equal(created.code, 0, created.stderr);
    const { key, backupKey } = JSON.parse(created.stdout) as { key: string; backupKey: string };
    const rtmp = (k: string) => `rtmp://127.0.0.1:${rc.ports.rtmp}/live/${k}`;
    let primary = publish(rtmp(key), { size: '480x270' });
    publish(rtmp(backupKey), { size: '320x180' });
    const flv = `http://127.0.0.1:${rc.ports.http}/live/studio.flv`;
    await shows('the primary on live/studio', flv, 480);
    let headers = 0;
    const read = await openFlv(flv, (tag) => {
      if (tag.type === TAG_VIDEO && tag.data[1] === 0) headers++;
    });
    assert.equal(read.status, 200);
    await waitFor('frames', () => (read.tags.length > 50 ? true : undefined), 30_000);

    await primary.stop();
    await waitFor(
      'the switch to the backup',
      async () => ((await activeRole('studio')) === 'backup' ? true : undefined),
      60_000,
      300,
    );
    await shows('the backup on live/studio', flv, 320);
    await shows('the backup in LL-HLS', `http://127.0.0.1:${rc.ports.http}/live/studio.m3u8`, 320);
    await shows('the backup in MPEG-TS HLS', `http://127.0.0.1:${rc.ports.http}/live/studio.ts.m3u8`, 320);
    assert.ok(headers >= 2, 'the open viewer got the backup sequence header on the same connection');

    primary = publish(rtmp(key), { size: '480x270' });
    await waitFor(
      'the revert',
      async () => ((await activeRole('studio')) === 'primary' ? true : undefined),
      60_000,
      300,
    );
    await shows('the primary again', flv, 480);

    const sw = await cli('stream', 'switch', 'live/studio', '--to', 'backup');
    assert.equal(sw.code, 0, sw.stderr);
    await shows('the manual switch', flv, 320);
    assert.equal(read.status, 200);
    read.close();
    assertMonotonic(read.tags, TAG_VIDEO, 'video');
    // a channel without a backup still plays straight from the publisher, and cannot switch
    const solo = await cli('channel', 'create', 'solo', '--json');
    const soloKey = (JSON.parse(solo.stdout) as { key: string }).key;
    publish(rtmp(soloKey), { size: '320x180' });
    await shows('live/solo', `http://127.0.0.1:${rc.ports.http}/live/solo.flv`, 320);
    const refused = await cli('stream', 'switch', 'live/solo', '--to', 'backup', '--force');
    assert.match(refused.stderr, /has no backup/);
  });

  it('sources: a backup MPEG-TS source takes over when the primary source goes silent', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const created = await cli(
      'channel',
      'create',
      'tv',
      '--source',
      `udp://127.0.0.1:${p1}`,
      '--backup-source',
      `udp://127.0.0.1:${p2}`,
      '--revert-after',
      '2',
    );
    assert.equal(created.code, 0, created.stderr);
    const primary = sendTs(`udp://127.0.0.1:${p1}`, 'mpegts', 'libx264', 120, '320x240');
    sendTs(`udp://127.0.0.1:${p2}`, 'mpegts', 'libx264', 120, '240x160');
    const flv = `http://127.0.0.1:${rc.ports.http}/live/tv.flv`;
    await shows('the primary source on live/tv', flv, 320);
    primary.kill('SIGKILL');
    await waitFor(
      'the switch to the backup source',
      async () => ((await activeRole('tv')) === 'backup' ? true : undefined),
      60_000,
      300,
    );
    await shows('the backup source on live/tv', flv, 240);
  });
});
