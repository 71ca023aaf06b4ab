/**
 * Open publishing and takeover, with real RTMP connections from two source addresses (127.0.0.1
 * and 127.0.0.2 are both loopback on Linux): the live encoder's own address may take its stream
 * over (a reconnect), another address is refused with RC_PUBLISH_STREAM_BUSY, and
 * --publish-takeover any lets anyone.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { RtmpClient } from '../media/rtmp/client.ts';
import { killAll, startRelaycast } from './helpers/process.ts';

async function publishFrom(port: number, localAddress: string, name: string): Promise<RtmpClient> {
  const client = await RtmpClient.open('127.0.0.1', port, { localAddress });
  try {
    await client.connect('live');
    await client.publish(await client.createStream(), name);
    return client;
  } catch (err) {
    client.socket.destroy();
    throw err;
  }
}

describe('open publishing: who may take a live stream over', { timeout: 120_000 }, () => {
  after(killAll);

  it('same address: yes; another address: RC_PUBLISH_STREAM_BUSY; with --publish-takeover any: yes', async () => {
    const rc = await startRelaycast('all');
    const first = await publishFrom(rc.ports.rtmp, '127.0.0.1', 'cam');
    await assert.rejects(publishFrom(rc.ports.rtmp, '127.0.0.2', 'cam'), /NetStream\.Publish\.Denied/);
    const refused = await rc.waitForLog((l) => l.code === 'RC_PUBLISH_STREAM_BUSY');
    assert.ok(refused, 'the refusal is logged with its code');
    assert.equal(first.closed, false, 'the live broadcast goes on');
    const reconnect = await publishFrom(rc.ports.rtmp, '127.0.0.1', 'cam');
    await rc.waitForLog((l) => l.msg === 'republish took over the stream');
    reconnect.socket.destroy();
    first.socket.destroy();

    const anyone = await startRelaycast('all', ['--publish-takeover', 'any']);
    const a = await publishFrom(anyone.ports.rtmp, '127.0.0.1', 'cam');
    const b = await publishFrom(anyone.ports.rtmp, '127.0.0.2', 'cam');
    await anyone.waitForLog((l) => l.msg === 'republish took over the stream');
    a.socket.destroy();
    b.socket.destroy();
  });
});
