/**
 * media/rtmp/client.ts against our own RTMP server: the real RtmpServer on loopback (TCP and TLS),
 * and a hand-driven server over a fake socket pair where the test must choose the exact bytes
 * (pings, acknowledgement windows).
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { decodeAmf0 } from '../../media/amf/amf0.ts';
import { StreamHub } from '../../media/hub/hub.ts';
import { ChunkReader, ChunkWriter, type RtmpMessage } from '../../media/rtmp/chunk.ts';
import { RtmpClient, RtmpClientError } from '../../media/rtmp/client.ts';
import { decodeCommand, encodeCommand, encodeDataMessage } from '../../media/rtmp/command.ts';
import { ServerHandshake } from '../../media/rtmp/handshake.ts';
import * as M from '../../media/rtmp/messages.ts';
import { RelaycastError } from '../errors.ts';
import { fakeSocketPair } from '../testing/fake-net.ts';
import {
  hubHandlers,
  selfSignedCert,
  startTestRtmpServer,
  startTestRtmpsServer,
} from '../testing/rtmp-server.ts';

const VIDEO_SEQ = Buffer.from([0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff]);
const KEYFRAME = Buffer.from([0x17, 0x01, 0, 0, 0, 0x65, 1, 2, 3]);
const METADATA = Buffer.from([
  // 'onMetaData', { width: 640 } in AMF0
  0x02,
  0x00,
  0x0a,
  ...Buffer.from('onMetaData'),
  0x03,
  0x00,
  0x05,
  ...Buffer.from('width'),
  0x00,
  0x40,
  0x84,
  0x00,
  0,
  0,
  0,
  0,
  0,
  0x00,
  0x00,
  0x09,
]);

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`never happened: ${what}`);
}

function rejectsWith(code: string, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof RtmpClientError, `an RtmpClientError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

const servers: { close(): void }[] = [];
after(() => {
  for (const s of servers) s.close();
});

describe('RtmpClient against RtmpServer on loopback', () => {
  it('publishes with an app of several segments and a tcUrl with a query; media lands in the hub', async () => {
    const hub = new StreamHub();
    const srv = await startTestRtmpServer(hub);
    servers.push(srv);
    const c = await RtmpClient.open('127.0.0.1', srv.port);
    c.setChunkSize(4096);
    await c.connect('live/sub', `rtmp://127.0.0.1:${srv.port}/live/sub?vhost=x`);
    c.announcePublish('cam');
    const sid = await c.createStream();
    await c.publish(sid, 'cam');
    const stream = hub.getLive('live/sub', 'cam');
    assert.ok(stream, 'live/sub/cam is live');
    c.sendMedia(sid, M.DATA_AMF0, 0, METADATA);
    c.sendMedia(sid, M.VIDEO, 0, VIDEO_SEQ);
    // Bigger than one 4096-byte chunk: the server must reassemble it with our chunk size.
    const big = Buffer.concat([KEYFRAME, Buffer.alloc(20_000, 7)]);
    c.sendMedia(sid, M.VIDEO, 0, big);
    await until('keyframe arrived', () => stream.counters.keyframes === 1);
    assert.deepEqual(stream.videoSequenceHeader?.data, VIDEO_SEQ);
    assert.equal(stream.gopCacheBytes, big.length);
    // @setDataFrame was added by the client and stripped by the server: plain onMetaData.
    assert.equal(decodeAmf0(stream.metadata!.data)[0], 'onMetaData');
    const pub = stream.publisher!;
    c.unpublish(sid, 'cam');
    await until('publication ended', () => pub.closed);
    assert.equal(pub.closeReason, 'unpublish');
    c.end();
    await until('client closed', () => c.closed);
    hub.close();
  });

  it('an onStatus error (Publish.BadName) rejects publish with RC_RTMP_REJECTED and its description', async () => {
    const hub = new StreamHub();
    const handlers = hubHandlers(hub);
    handlers.publish = async () => {
      throw new RelaycastError('RC_PUBLISH_KEY_INVALID', 'unknown stream key');
    };
    const srv = await startTestRtmpServer(hub, 0, handlers);
    servers.push(srv);
    const c = await RtmpClient.open('127.0.0.1', srv.port);
    await c.connect('live');
    const sid = await c.createStream();
    await assert.rejects(
      c.publish(sid, 'nope'),
      rejectsWith('RC_RTMP_REJECTED', /NetStream\.Publish\.BadName: unknown stream key/),
    );
    c.close();
    hub.close();
  });

  it('a refused connect (_error) rejects with RC_RTMP_REJECTED', async () => {
    const hub = new StreamHub();
    const srv = await startTestRtmpServer(hub);
    servers.push(srv);
    const c = await RtmpClient.open('127.0.0.1', srv.port);
    await assert.rejects(c.connect(''), rejectsWith('RC_RTMP_REJECTED', /NetConnection\.Connect\.Rejected/));
    c.close();
    hub.close();
  });

  it('nothing listening: RC_RTMP_CONNECT_FAILED; a server that never answers the handshake: RC_RTMP_TIMEOUT', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const freePort = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    await assert.rejects(
      RtmpClient.open('127.0.0.1', freePort, { timeoutMs: 5000 }),
      rejectsWith('RC_RTMP_CONNECT_FAILED', /ECONNREFUSED/),
    );
    let accepted = 0;
    let hungUp = 0;
    const silent: Server = createServer((s) => {
      accepted++;
      s.resume(); // read (and ignore) C0/C1, so the client's FIN is seen
      s.on('close', () => hungUp++);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    servers.push({ close: () => silent.close() });
    const port = (silent.address() as { port: number }).port;
    await assert.rejects(
      RtmpClient.open('127.0.0.1', port, { timeoutMs: 300 }),
      rejectsWith('RC_RTMP_TIMEOUT', /no RTMP handshake within 300 ms/),
    );
    await until('the client hung up', () => accepted === 1 && hungUp === 1);
  });
});

describe('RtmpClient over TLS (rtmps)', () => {
  it('refuses a self-signed certificate by default and publishes with rejectUnauthorized false', async (t) => {
    const tls = selfSignedCert();
    if ('missing' in tls) {
      t.skip(tls.missing);
      return;
    }
    const hub = new StreamHub();
    const srv = await startTestRtmpsServer(hub, tls);
    servers.push(srv);
    await assert.rejects(
      RtmpClient.open('127.0.0.1', srv.port, { tls: true, timeoutMs: 5000 }),
      rejectsWith('RC_RTMP_CONNECT_FAILED', /self.signed/i),
    );
    const c = await RtmpClient.open('127.0.0.1', srv.port, { tls: true, rejectUnauthorized: false });
    await c.connect('live', `rtmps://127.0.0.1:${srv.port}/live`);
    const sid = await c.createStream();
    await c.publish(sid, 'secure');
    c.sendMedia(sid, M.VIDEO, 0, VIDEO_SEQ);
    c.sendMedia(sid, M.VIDEO, 0, KEYFRAME);
    const stream = hub.getLive('live', 'secure');
    assert.ok(stream);
    await until('keyframe over TLS', () => stream.counters.keyframes === 1);
    c.close();
    hub.close();
  });
});

/** The server side of a fake connection, driven by the test byte for byte. */
function handDrivenServer(socket: Socket) {
  const hs = new ServerHandshake();
  let handshaken = false;
  const reader = new ChunkReader();
  const writer = new ChunkWriter();
  const received: RtmpMessage[] = [];
  socket.on('data', (chunk: Buffer) => {
    let data: Buffer | undefined = chunk;
    if (!handshaken) {
      const step = hs.push(chunk);
      if (step.reply) socket.write(step.reply);
      if (!step.done) return;
      handshaken = true;
      data = step.rest;
      if (!data?.length) return;
    }
    for (const msg of reader.push(data)) {
      received.push(msg);
      if (msg.typeId === M.COMMAND_AMF0) {
        const cmd = decodeCommand(msg);
        if (cmd.name === 'connect')
          socket.write(
            writer.encode(encodeCommand(3, 0, '_result', cmd.transactionId, null, { code: 'ok' })),
          );
      }
    }
  });
  return { received, send: (msg: RtmpMessage) => socket.write(writer.encode(msg)) };
}

describe('RtmpClient protocol duties', () => {
  it('answers PingRequest with PingResponse and acknowledges each window with the bytes received', async () => {
    const [clientSide, serverSide] = fakeSocketPair();
    const server = handDrivenServer(serverSide);
    const c = await RtmpClient.over(clientSide);
    await c.connect('live');
    server.send(M.windowAckSizeMessage(2000));
    server.send(M.pingRequestMessage(123456));
    // About 5 KB of data messages: the client's reader passes the 2000-byte window twice.
    for (let i = 0; i < 10; i++)
      server.send(encodeDataMessage(5, 1, i, 'padding', Buffer.alloc(480, i).toString('latin1')));
    await until(
      'ping answered and two acks sent',
      () =>
        server.received.some((m) => m.typeId === M.USER_CONTROL) &&
        server.received.filter((m) => m.typeId === M.ACK).length >= 2,
    );
    const pong = M.parseUserControl(server.received.find((m) => m.typeId === M.USER_CONTROL)!.payload);
    assert.deepEqual(pong, { event: M.PING_RESPONSE, value: 123456 });
    const acks = server.received
      .filter((m) => m.typeId === M.ACK)
      .map((m) => M.parseUint32Payload(m.payload));
    // Each ack carries the reader's byte count at that point; consecutive ones a window or more apart.
    assert.ok(acks[0]! >= 2000, `first ack ${acks[0]}`);
    assert.ok(acks[1]! - acks[0]! >= 2000, `acks ${acks}`);
    assert.ok(acks[1]! <= c.bytesIn, `ack ${acks[1]} ≤ bytes received ${c.bytesIn}`);
    c.close();
  });

  it('every wait has a timeout: a server that never answers createStream', async () => {
    const [clientSide, serverSide] = fakeSocketPair();
    handDrivenServer(serverSide);
    const c = await RtmpClient.over(clientSide);
    c.timeoutMs = 200;
    await c.connect('live');
    await assert.rejects(
      c.createStream(),
      rejectsWith('RC_RTMP_TIMEOUT', /no answer to createStream within 200 ms/),
    );
    await assert.rejects(c.publish(1, 'x'), rejectsWith('RC_RTMP_TIMEOUT', /NetStream\.Publish\.Start/));
    c.close();
    await assert.rejects(c.createStream(), rejectsWith('RC_RTMP_CLOSED'));
    assert.equal(c.closeReason, 'closed by client');
  });
});
