/**
 * RtmpSession driven in memory: a real RtmpClient (media/rtmp/client.ts) and the session talk over
 * a fake socket pair, the hub is a real StreamHub, timers are node:test's fake clock where timing
 * matters. No port is opened.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { afterEach, describe, it, mock } from 'node:test';
import { StreamHub } from '../../media/hub/hub.ts';
import type { HubStream, PublicationEndReason } from '../../media/hub/stream.ts';
import { RtmpClient } from '../../media/rtmp/client.ts';
import * as M from '../../media/rtmp/messages.ts';
import { createLogger } from '../log.ts';
import { fakeSocketPair } from '../testing/fake-net.ts';
import { RtmpServer } from './server.ts';
import { type RtmpHandlers, RtmpSession, type RtmpSessionOptions } from './session.ts';

const log = createLogger('silent');
const OPTIONS: RtmpSessionOptions = {
  handshakeTimeoutMs: 5000,
  idlePublisherTimeoutMs: 0,
  maxMessageBytes: 8 * 1024 * 1024,
  maxChunkSize: 65536,
  amfMaxDepth: 16,
  amfMaxStringBytes: 65536,
};

const VIDEO_SEQ = Buffer.from([0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff]);
const key = (n: number) => Buffer.from([0x17, 0x01, 0, 0, 0, n & 0xff, 1, 2, 3]);
const inter = (n: number) => Buffer.from([0x27, 0x01, 0, 0, 0, n & 0xff, 4, 5]);
const turn = () => new Promise<void>((r) => setImmediate(r));

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (check()) return;
    await turn();
  }
  assert.fail(`never happened: ${what}`);
}

function setup(hub: StreamHub, options: RtmpSessionOptions = OPTIONS) {
  const ended: PublicationEndReason[] = [];
  const handlers: RtmpHandlers = {
    publish: async (req, onEnd) =>
      hub.publish(req.app, req.streamName, { sessionId: req.remote, kind: 'rtmp' }, (r) => {
        ended.push(r);
        onEnd(r);
      }),
    play: async (req) => {
      const s = hub.getLive(req.app, req.name);
      if (!s) throw new Error('not live');
      return s;
    },
  };
  const sessions: RtmpSession[] = [];
  const open = async (): Promise<{ client: RtmpClient; session: RtmpSession; clientSocket: Socket }> => {
    const [clientSocket, serverSocket] = fakeSocketPair();
    const session = new RtmpSession(serverSocket, handlers, options, log);
    sessions.push(session);
    const client = await RtmpClient.over(clientSocket);
    return { client, session, clientSocket };
  };
  return { open, ended, sessions };
}

describe('RtmpSession in memory', () => {
  afterEach(() => mock.timers.reset());

  it('FCUnpublish then publish again on one connection, three times: each turn is a new publication on one timeline', async () => {
    const hub = new StreamHub({ republishWaitMs: 60_000 });
    const { open } = setup(hub);
    const { client } = await open();
    await client.connect('live');
    const sid = await client.createStream();
    const reasons: PublicationEndReason[] = [];
    hub.on('unpublish', (_s, _p, r) => reasons.push(r));
    let stream: HubStream | undefined;
    let lastTs = -1;
    for (let turnNo = 0; turnNo < 3; turnNo++) {
      await client.publish(sid, 'cam');
      stream = hub.getLive('live', 'cam');
      assert.ok(stream, `turn ${turnNo}: live`);
      const pub = stream.publisher!;
      client.sendMedia(sid, M.VIDEO, 0, VIDEO_SEQ);
      for (let i = 0; i < 5; i++) client.sendMedia(sid, M.VIDEO, i * 40, i === 0 ? key(i) : inter(i));
      await until('media arrived', () => stream!.counters.videoFrames === (turnNo + 1) * 5);
      assert.ok(stream.lastTimestamp > lastTs, 'timeline continues across publications');
      lastTs = stream.lastTimestamp;
      client.sendCommand('FCUnpublish', 0, 'cam');
      await until('unpublished', () => pub.closed);
      assert.equal(pub.closeReason, 'unpublish');
      assert.equal(stream.live, false);
    }
    assert.deepEqual(reasons, ['unpublish', 'unpublish', 'unpublish']);
    assert.equal(stream!.counters.publishes, 3);
    client.close();
    hub.close();
  });

  it('acknowledges at each window boundary with the exact byte count received (RTMP spec 5.4.3)', async () => {
    const hub = new StreamHub();
    const { open } = setup(hub);
    const { client, clientSocket } = await open();
    // Count every byte the client sends after the handshake: that is what the session's reader sees.
    let sent = 0;
    const write = clientSocket.write.bind(clientSocket);
    clientSocket.write = ((chunk: Buffer, ...rest: never[]) => {
      sent += chunk.length;
      return write(chunk, ...rest);
    }) as typeof clientSocket.write;
    const WINDOW = 3000;
    client.sendMessage(M.windowAckSizeMessage(WINDOW));
    await client.connect('live');
    const sid = await client.createStream();
    await client.publish(sid, 'acks');
    const expected: number[] = [];
    let lastAck = 0;
    // The window was set before any other byte counted, so the rule applies from the start.
    for (let i = 0; i < 60; i++) {
      client.sendMedia(sid, M.VIDEO, i * 40, Buffer.concat([inter(i), Buffer.alloc(150 + (i % 7) * 13)]));
      await turn();
      if (sent - lastAck >= WINDOW) {
        lastAck = sent;
        expected.push(sent);
      }
    }
    await until('acks arrived', () => client.acks.length >= expected.length);
    assert.ok(expected.length >= 3, `${sent} bytes crossed ${expected.length} windows`);
    assert.deepEqual(client.acks, expected);
    client.close();
    hub.close();
  });

  it('a player gets the stream, the publisher is kicked, then the stream ends: every object ends closed with its reason', async () => {
    const hub = new StreamHub({ republishWaitMs: 60_000 });
    const { open, ended, sessions } = setup(hub);
    const pubSide = await open();
    await pubSide.client.connect('live');
    const psid = await pubSide.client.createStream();
    await pubSide.client.publish(psid, 'show');
    pubSide.client.sendMedia(psid, M.VIDEO, 0, VIDEO_SEQ);
    pubSide.client.sendMedia(psid, M.VIDEO, 0, key(0));
    const stream = hub.getLive('live', 'show')!;
    await until('keyframe cached', () => stream.gopCacheTags > 0);

    const player = await open();
    const got: number[] = [];
    player.client.onMedia = (msg) => got.push(msg.typeId);
    await player.client.connect('live');
    const vsid = await player.client.createStream();
    await player.client.play(vsid, 'show');
    await until('player got the GOP', () => got.includes(M.VIDEO));
    const [viewer] = [...stream.viewers];
    assert.ok(viewer);

    const pub = stream.publisher!;
    assert.equal(stream.kickPublisher('kicked'), true);
    assert.deepEqual(ended, ['kicked']);
    assert.equal(pub.closeReason, 'kicked');
    await until('publisher told', () => pubSide.client.statusCodes.includes('NetStream.Unpublish.Success'));
    await until('publisher connection closed', () => pubSide.client.closed);
    assert.equal(viewer.closed, false, 'viewers wait for the publisher to come back');

    stream.close('stream-ended');
    assert.equal(viewer.closeReason, 'stream-ended');
    await until('player told', () => player.client.statusCodes.includes('NetStream.Play.UnpublishNotify'));
    await until('player connection closed', () => player.client.closed);
    hub.close();
    for (const s of sessions) assert.equal((s as unknown as { closed: boolean }).closed, true);
  });

  it('RtmpServer.accept serves a fake connection like a TCP one; closeAll ends it and its publication', async () => {
    const hub = new StreamHub();
    const server = new RtmpServer(
      {
        publish: async (req, onEnd) =>
          hub.publish(req.app, req.streamName, { sessionId: 's', kind: 'rtmp' }, onEnd),
      },
      { ...OPTIONS, host: '127.0.0.1', port: 0, maxConnectionsPerIp: 0 },
      log,
    );
    const [clientSocket, serverSocket] = fakeSocketPair();
    server.accept(serverSocket);
    assert.equal(server.sessionCount, 1);
    const client = await RtmpClient.over(clientSocket);
    await client.connect('live');
    await client.publish(await client.createStream(), 'srv');
    const pub = hub.getLive('live', 'srv')!.publisher!;
    server.closeAll();
    assert.equal(pub.closeReason, 'closed');
    await until('client disconnected', () => client.closed);
    await until('session forgotten', () => server.sessionCount === 0);
    hub.close();
  });

  it('closes a connection that never completes the handshake, on the fake clock', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const [, serverSocket] = fakeSocketPair();
    const session = new RtmpSession(serverSocket, {}, OPTIONS, log);
    mock.timers.tick(OPTIONS.handshakeTimeoutMs - 1);
    assert.equal((session as unknown as { closed: boolean }).closed, false);
    mock.timers.tick(1);
    assert.equal((session as unknown as { closed: boolean }).closed, true);
    mock.timers.tick(5000); // the destroy fallback
    assert.equal(serverSocket.destroyed, true);
  });
});
