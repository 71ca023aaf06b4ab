/**
 * RtmpSession driven in memory: the server side of a duplexPair stands in for the TCP socket and a
 * small client speaks the handshake, chunk stream and AMF0 commands on the other side, so the
 * tests control exactly which bytes arrive in one write and when a publish is authorised.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { type Duplex, duplexPair } from 'node:stream';
import { after, describe, it } from 'node:test';
import type { AmfObject } from '../../media/amf/amf0.ts';
import { StreamHub } from '../../media/hub/hub.ts';
import { ChunkReader, ChunkWriter, type RtmpMessage } from '../../media/rtmp/chunk.ts';
import { decodeCommand, encodeCommand, encodeDataMessage } from '../../media/rtmp/command.ts';
import { ClientHandshake } from '../../media/rtmp/handshake.ts';
import * as M from '../../media/rtmp/messages.ts';
import { createLogger } from '../log.ts';
import { type PublishRequest, type RtmpHandlers, RtmpSession, type RtmpSessionOptions } from './session.ts';

const VIDEO_SEQ = Buffer.from([0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff]);
const AUDIO_SEQ = Buffer.from([0xaf, 0x00, 0x12, 0x10]);
const KEYFRAME = Buffer.from([0x17, 0x01, 0, 0, 0, 0x65, 1, 2, 3]);

const OPTIONS: RtmpSessionOptions = {
  handshakeTimeoutMs: 5000,
  idlePublisherTimeoutMs: 20_000,
  maxMessageBytes: 16 * 1024 * 1024,
  maxChunkSize: 65536,
  amfMaxDepth: 32,
  amfMaxStringBytes: 65536,
};

/** The server half of a duplexPair, dressed as the net.Socket the session reads. */
function fakeSocket(side: Duplex): Socket {
  return Object.assign(side, {
    remoteAddress: '192.0.2.7',
    remotePort: 50000,
    setNoDelay: () => side,
  }) as unknown as Socket;
}

class MemoryClient {
  readonly session: RtmpSession;
  private readonly peer: Duplex;
  private readonly handshake = new ClientHandshake();
  private handshaken = false;
  private readonly reader = new ChunkReader();
  private readonly writer = new ChunkWriter();
  readonly statuses: AmfObject[] = [];
  readonly results: number[] = [];
  private tx = 1;
  closed = false;

  constructor(handlers: RtmpHandlers, options: Partial<RtmpSessionOptions> = {}) {
    const [server, client] = duplexPair();
    this.peer = client;
    this.session = new RtmpSession(
      fakeSocket(server),
      handlers,
      { ...OPTIONS, ...options },
      createLogger('silent'),
    );
    client.on('data', (chunk: Buffer) => this.onData(chunk));
    client.on('end', () => {
      this.closed = true;
    });
    client.on('close', () => {
      this.closed = true;
    });
    client.write(this.handshake.start());
  }

  private onData(chunk: Buffer): void {
    let data: Buffer | undefined = chunk;
    if (!this.handshaken) {
      const step = this.handshake.push(chunk);
      if (step.reply) this.peer.write(step.reply);
      if (!step.done) return;
      this.handshaken = true;
      data = step.rest;
      if (!data?.length) return;
    }
    for (const msg of this.reader.push(data)) {
      if (msg.typeId !== M.COMMAND_AMF0) continue;
      const cmd = decodeCommand(msg);
      if (cmd.name === 'onStatus') this.statuses.push((cmd.args[0] ?? {}) as AmfObject);
      if (cmd.name === '_result') this.results.push(cmd.transactionId);
    }
  }

  /** Encodes messages into ONE write, as an encoder that does not wait for answers does. */
  write(...msgs: RtmpMessage[]): void {
    this.peer.write(Buffer.concat(msgs.map((m) => this.writer.encode(m))));
  }

  command(name: string, obj: AmfObject | null, ...args: (string | number)[]): RtmpMessage {
    return encodeCommand(3, name === 'publish' ? 1 : 0, name, this.tx++, obj, ...args);
  }

  async connect(): Promise<void> {
    await until('handshake', () => this.handshaken);
    const tx = this.tx;
    this.write(
      this.command('connect', { app: 'live', tcUrl: 'rtmp://x/live' }),
      this.command('createStream', null),
    );
    await until('connect and createStream answered', () => this.results.includes(tx + 1));
  }

  /** The peer goes away (a duplexPair does not carry a destroy across, so tell the session too). */
  close(): void {
    this.peer.destroy();
    this.session.close('client closed');
  }
}

const media = (typeId: number, timestamp: number, payload: Buffer): RtmpMessage => ({
  csid: typeId === M.AUDIO ? 4 : 6,
  typeId,
  streamId: 1,
  timestamp,
  payload,
});

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A publish authoriser that answers only when the test says so (a slow Redis round trip). */
function slowAuthoriser(hub: StreamHub) {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const requests: PublishRequest[] = [];
  const handlers: RtmpHandlers = {
    async publish(req, onEnd) {
      requests.push(req);
      await gate;
      return hub.publish(req.app, req.streamName, { sessionId: 'x', kind: 'rtmp' }, onEnd);
    },
  };
  return { handlers, requests, release: () => release() };
}

describe('RtmpSession: media sent before NetStream.Publish.Start', () => {
  const hub = new StreamHub();
  after(() => hub.close());

  it('is held in order while the publish is authorised, then fed: metadata, both configs, the keyframe', async () => {
    const auth = slowAuthoriser(hub);
    const c = new MemoryClient(auth.handlers);
    await c.connect();
    c.write(
      c.command('publish', null, 'early', 'live'),
      encodeDataMessage(5, 1, 0, '@setDataFrame', 'onMetaData', { width: 640, videocodecid: 7 }),
      media(M.VIDEO, 0, VIDEO_SEQ),
      media(M.AUDIO, 0, AUDIO_SEQ),
      media(M.VIDEO, 0, KEYFRAME),
    );
    await until('the publish request', () => auth.requests.length === 1);
    await new Promise((r) => setTimeout(r, 50)); // authorisation still pending: nothing may be lost
    assert.equal(hub.get('live', 'early'), undefined);
    auth.release();
    await until('Publish.Start', () => c.statuses.some((s) => s.code === 'NetStream.Publish.Start'));
    const stream = hub.get('live', 'early')!;
    await until('the held media', () => stream.counters.videoFrames === 1);
    assert.ok(stream.metadata, 'onMetaData kept');
    assert.deepEqual(stream.videoSequenceHeader?.data, VIDEO_SEQ);
    assert.deepEqual(stream.audioSequenceHeader?.data, AUDIO_SEQ);
    assert.equal(stream.gopCacheTags, 1, 'the keyframe is in the GOP cache');
    c.close();
    await until('the publication ends', () => !stream.live);
  });

  it('past its bounds the connection is closed with RC_PUBLISH_PENDING_LIMIT', async () => {
    const auth = slowAuthoriser(hub);
    const codes: string[] = [];
    const c = new MemoryClient(
      { ...auth.handlers, onProtocolError: (code) => codes.push(code) },
      { pendingMediaMaxBytes: 4096, pendingMediaMaxMessages: 100 },
    );
    await c.connect();
    const frames = Array.from({ length: 10 }, (_, i) => media(M.VIDEO, i * 40, Buffer.alloc(1000, 0x27)));
    c.write(c.command('publish', null, 'flood', 'live'), ...frames);
    await until('the session closes', () => c.closed);
    assert.deepEqual(codes, ['RC_PUBLISH_PENDING_LIMIT']);
    auth.release();
  });
});

describe('RtmpSession: FCUnpublish + publish cycles on one connection', () => {
  it('leave no idle-publisher timer behind', async () => {
    const hub = new StreamHub();
    // Track every interval the code under test creates (unref'd timers are not in
    // process.getActiveResourcesInfo(), so count them at the source).
    const live = new Set<unknown>();
    const realSet = globalThis.setInterval;
    const realClear = globalThis.clearInterval;
    globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
      const t = realSet(...args);
      live.add(t);
      return t;
    }) as typeof setInterval;
    globalThis.clearInterval = ((t: Parameters<typeof clearInterval>[0]) => {
      live.delete(t);
      realClear(t);
    }) as typeof clearInterval;
    try {
      const handlers: RtmpHandlers = {
        publish: async (req, onEnd) =>
          hub.publish(req.app, req.streamName, { sessionId: 'cycle', kind: 'rtmp' }, onEnd),
      };
      const c = new MemoryClient(handlers);
      await c.connect();
      const CYCLES = 20;
      for (let i = 0; i < CYCLES; i++) {
        const before = c.statuses.length;
        c.write(c.command('publish', null, 'cycle', 'live'));
        await until(`publish ${i}`, () =>
          c.statuses.slice(before).some((s) => s.code === 'NetStream.Publish.Start'),
        );
        assert.equal(live.size, 1, `one idle timer while publishing (cycle ${i})`);
        const stream = hub.get('live', 'cycle')!;
        c.write(c.command('FCUnpublish', null, 'cycle'));
        await until(`unpublish ${i}`, () => !stream.live);
        assert.equal(live.size, 0, `no idle timer once unpublished (cycle ${i})`);
      }
      c.close();
      await until('session closed', () => c.closed);
      assert.equal(live.size, 0);
    } finally {
      globalThis.setInterval = realSet;
      globalThis.clearInterval = realClear;
      hub.close();
    }
  });
});
