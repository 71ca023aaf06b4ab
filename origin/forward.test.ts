/**
 * Forwarder against our own RTMP server on loopback (core/testing/rtmp-server.ts): the source is
 * an in-process hub fed tag by tag, the destination a real RtmpServer feeding a second hub, which
 * the tests stop, restart on the same port, starve and replace with servers that never answer.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { createLogger } from '../core/log.ts';
import { RtmpServer } from '../core/rtmp/server.ts';
import {
  hubHandlers,
  selfSignedCert,
  startTestRtmpServer,
  startTestRtmpsServer,
  TEST_RTMP_OPTIONS,
} from '../core/testing/rtmp-server.ts';
import { StreamHub } from '../media/hub/hub.ts';
import type { HubStream, Publication } from '../media/hub/stream.ts';
import { TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO } from '../media/tag.ts';
import { Forwarder, type ForwardState } from './forward.ts';

const KEY = 'sk-live-8f3a9c';
const VIDEO_SEQ = Buffer.from([0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff]);
const VIDEO_SEQ_2 = Buffer.from([0x17, 0x00, 0, 0, 0, 1, 0x4d, 0, 0x28, 0xff]);
const AUDIO_SEQ = Buffer.from([0xaf, 0x00, 0x12, 0x10]);
const METADATA = Buffer.from([0x02, 0x00, 0x0a, ...Buffer.from('onMetaData'), 0x05]); // 'onMetaData', null
const key = (n: number, pad = 0) =>
  Buffer.concat([Buffer.from([0x17, 0x01, 0, 0, 0, n & 0xff]), Buffer.alloc(pad, 1)]);
const inter = (n: number, pad = 0) =>
  Buffer.concat([Buffer.from([0x27, 0x01, 0, 0, 0, n & 0xff]), Buffer.alloc(pad, 2)]);
const aac = (n: number) => Buffer.from([0xaf, 0x01, n & 0xff, 0x21]);

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`never happened: ${what}`);
}

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A source hub with a publisher on live/src. */
function source(): { hub: StreamHub; stream: HubStream; pub: Publication } {
  const hub = new StreamHub({ republishWaitMs: 60_000 });
  cleanups.push(() => hub.close());
  const pub = hub.publish('live', 'src', { sessionId: 's1', kind: 'test' });
  return { hub, stream: pub.stream, pub };
}

function forward(
  stream: HubStream,
  port: number,
  extra: Partial<ConstructorParameters<typeof Forwarder>[0]> = {},
) {
  const fwd = new Forwarder({
    url: `rtmp://127.0.0.1:${port}/live/${KEY}`,
    stream,
    retryMinMs: 50,
    retryMaxMs: 400,
    timeoutMs: 2000,
    ...extra,
  });
  cleanups.push(() => fwd.close('shutdown'));
  const states: ForwardState[] = [];
  fwd.on('state', (s) => states.push(s));
  return { fwd, states };
}

function assertNoKey(s: ForwardState): void {
  assert.doesNotMatch(JSON.stringify(s), new RegExp(KEY), 'the stream key never shows');
}

describe('Forwarder', () => {
  it('starts the destination on config + cached GOP, passes live tags, and unpublishes when the stream ends', async () => {
    const { stream, pub } = source();
    pub.pushTag(TAG_SCRIPT, 1000, METADATA);
    pub.pushTag(TAG_VIDEO, 1000, VIDEO_SEQ);
    pub.pushTag(TAG_AUDIO, 1000, AUDIO_SEQ);
    pub.pushTag(TAG_VIDEO, 1000, key(0));
    pub.pushTag(TAG_AUDIO, 1010, aac(0));
    pub.pushTag(TAG_VIDEO, 1040, inter(1));
    const dest = new StreamHub();
    cleanups.push(() => dest.close());
    const srv = await startTestRtmpServer(dest);
    cleanups.push(srv.close);
    const { fwd, states } = forward(stream, srv.port);
    await until('live', () => fwd.info.state === 'live');
    const out = dest.getLive('live', KEY)!;
    assert.ok(out, 'the destination has the stream under the key');
    await until('GOP forwarded', () => out.counters.videoFrames === 2 && out.counters.audioFrames === 1);
    assert.deepEqual(out.videoSequenceHeader?.data, VIDEO_SEQ);
    assert.deepEqual(out.audioSequenceHeader?.data, AUDIO_SEQ);
    assert.ok(out.metadata, 'metadata forwarded');
    assert.equal(out.gopCacheTags, 3, 'the destination starts on the keyframe');
    for (let i = 2; i < 10; i++) pub.pushTag(TAG_VIDEO, 1000 + i * 40, i === 5 ? key(i) : inter(i));
    await until('live tags forwarded', () => out.counters.videoFrames === 10 && out.counters.keyframes === 2);
    assert.ok(
      out.lastTimestamp <= 400,
      `timestamps rebased to the connection start, got ${out.lastTimestamp}`,
    );
    const outPub = out.publisher!;
    stream.close('stream-ended');
    await until('destination publication ended', () => outPub.closed);
    assert.equal(outPub.closeReason, 'unpublish', 'FCUnpublish/deleteStream, not a dropped connection');
    assert.equal(fwd.closed, true);
    assert.equal(fwd.closeReason, 'stream-ended');
    const info = fwd.info;
    assert.equal(info.state, 'stopped');
    assert.equal(info.reconnects, 0);
    assert.equal(info.lastError, undefined);
    assert.ok(info.bytesSent > 3000, `bytesSent ${info.bytesSent}`);
    assert.equal(info.url, `rtmp://127.0.0.1:${srv.port}/live/***`);
    assert.deepEqual(
      states.map((s) => s.state),
      ['connecting', 'live', 'stopped'],
    );
    states.forEach(assertNoKey);
  });

  it('destination goes away: retrying with lastError; back on the same port: live again', async () => {
    const { stream, pub } = source();
    pub.pushTag(TAG_VIDEO, 0, VIDEO_SEQ);
    pub.pushTag(TAG_VIDEO, 0, key(0));
    const dest = new StreamHub();
    cleanups.push(() => dest.close());
    const srv = await startTestRtmpServer(dest);
    const { fwd } = forward(stream, srv.port);
    await until('live', () => fwd.info.state === 'live');
    srv.close();
    await until('retrying', () => fwd.info.state === 'retrying');
    const down = fwd.info;
    assert.match(down.lastError ?? '', /^RC_RTMP_(CLOSED|CONNECT_FAILED): /);
    assert.ok(down.nextRetryAt && down.nextRetryAt >= down.since);
    assertNoKey(down);
    // While it is down, tags are dropped, not queued.
    for (let i = 1; i < 30; i++) pub.pushTag(TAG_VIDEO, i * 40, inter(i, 10_000));
    await until('several attempts failed', () => fwd.info.reconnects >= 3);
    assert.equal(fwd.info.lastErrorCode, 'RC_RTMP_CONNECT_FAILED');
    const dest2 = new StreamHub();
    cleanups.push(() => dest2.close());
    const srv2 = await startTestRtmpServer(dest2, srv.port);
    cleanups.push(srv2.close);
    await until('live again', () => fwd.info.state === 'live');
    const out = dest2.getLive('live', KEY)!;
    await until('the cached GOP arrived', () => out.counters.keyframes === 1);
    assert.deepEqual(out.videoSequenceHeader?.data, VIDEO_SEQ);
    pub.pushTag(TAG_VIDEO, 2000, key(50));
    await until('live tags after the reconnect', () => out.counters.keyframes === 2);
    assert.ok(fwd.info.reconnects >= 3);
    fwd.close('stopped');
    assert.equal(fwd.info.state, 'stopped');
  });

  it('a new publisher on the source: its sequence headers reach the destination, then its keyframe', async () => {
    const { hub, stream, pub } = source();
    pub.pushTag(TAG_VIDEO, 0, VIDEO_SEQ);
    pub.pushTag(TAG_VIDEO, 0, key(0));
    const dest = new StreamHub();
    cleanups.push(() => dest.close());
    const srv = await startTestRtmpServer(dest);
    cleanups.push(srv.close);
    const { fwd } = forward(stream, srv.port);
    await until('live', () => fwd.info.state === 'live');
    const out = dest.getLive('live', KEY)!;
    await until('first keyframe', () => out.counters.keyframes === 1);
    pub.close('unpublish');
    const pub2 = hub.publish('live', 'src', { sessionId: 's2', kind: 'test' });
    assert.equal(pub2.stream, stream, 'same stream object across the republish');
    pub2.pushTag(TAG_VIDEO, 0, inter(9)); // no reference picture yet: must not be forwarded
    pub2.pushTag(TAG_VIDEO, 0, VIDEO_SEQ_2);
    pub2.pushTag(TAG_VIDEO, 0, key(1));
    await until('new config and keyframe', () => out.counters.keyframes === 2);
    assert.deepEqual(out.videoSequenceHeader?.data, VIDEO_SEQ_2);
    assert.equal(out.counters.videoFrames, 2, 'the inter frame before the keyframe was dropped');
    assert.equal(fwd.info.state, 'live');
  });

  it('a destination that accepts TCP but never answers the handshake: timeouts, retrying, no crash', async () => {
    const held = new Set<Socket>();
    const blackHole: Server = createServer((s) => {
      held.add(s);
      s.resume();
      s.on('close', () => held.delete(s));
    });
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
    cleanups.push(() => blackHole.close());
    const { stream, pub } = source();
    const { fwd, states } = forward(stream, (blackHole.address() as { port: number }).port, {
      timeoutMs: 200,
    });
    pub.pushTag(TAG_VIDEO, 0, VIDEO_SEQ);
    await until('two timed-out attempts', () => fwd.info.reconnects >= 2);
    assert.equal(fwd.info.lastErrorCode, 'RC_RTMP_TIMEOUT');
    assert.match(fwd.info.lastError!, /^RC_RTMP_TIMEOUT: no RTMP handshake within 200 ms/);
    assert.ok(states.every((s) => s.state === 'connecting' || s.state === 'retrying'));
    fwd.close('stopped');
    await until('every attempt hung up', () => held.size === 0);
    // Closed in the middle of a handshake that would take 60 s to time out: it hangs up now.
    const { fwd: slow } = forward(stream, (blackHole.address() as { port: number }).port, {
      timeoutMs: 60_000,
    });
    await until('connected, handshake pending', () => held.size === 1);
    slow.close('stopped');
    await until('hung up at close, not at the timeout', () => held.size === 0, 5000);
    assert.equal(slow.info.state, 'stopped');
  });

  it('rtmps:// with rejectUnauthorized false reaches a TLS destination; with the default it retries on the certificate', async (t) => {
    const tls = selfSignedCert();
    if ('missing' in tls) {
      t.skip(tls.missing);
      return;
    }
    const { stream, pub } = source();
    pub.pushTag(TAG_VIDEO, 0, VIDEO_SEQ);
    pub.pushTag(TAG_VIDEO, 0, key(0));
    const dest = new StreamHub();
    cleanups.push(() => dest.close());
    const srv = await startTestRtmpsServer(dest, tls);
    cleanups.push(srv.close);
    const url = `rtmps://127.0.0.1:${srv.port}/live/${KEY}`;
    const { fwd: strict } = forward(stream, 0, { url });
    await until('refused the certificate', () => strict.info.lastErrorCode !== undefined);
    assert.match(strict.info.lastError!, /^RC_RTMP_CONNECT_FAILED: .*self.signed/i);
    strict.close('stopped');
    const { fwd } = forward(stream, 0, { url, rejectUnauthorized: false });
    await until('live over TLS', () => fwd.info.state === 'live');
    const out = dest.getLive('live', KEY)!;
    await until('keyframe over TLS', () => out.counters.keyframes === 1);
    assert.equal(fwd.info.url, `rtmps://127.0.0.1:${srv.port}/live/***`);
  });

  it('refuses a bad URL with RC_FORWARD_URL_INVALID before touching the stream', () => {
    const { stream } = source();
    assert.throws(
      () => new Forwarder({ url: 'http://example.com/live/KEY', stream }),
      (err: Error & { code?: string }) => err.code === 'RC_FORWARD_URL_INVALID',
    );
  });
});

describe('Forwarder and a slow destination', () => {
  /** An RTMP server whose sockets the test can stop reading (a destination slower than the stream). */
  async function pausableServer(dest: StreamHub) {
    const sockets = new Set<Socket>();
    const rtmp = new RtmpServer(
      hubHandlers(dest),
      { ...TEST_RTMP_OPTIONS, host: '127.0.0.1', port: 0, maxConnectionsPerIp: 0 },
      createLogger('silent'),
    );
    const net = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      rtmp.accept(s);
    });
    await new Promise<void>((r) => net.listen(0, '127.0.0.1', r));
    cleanups.push(() => {
      net.close();
      rtmp.closeAll();
    });
    return { port: (net.address() as { port: number }).port, sockets };
  }

  /** Pushes GOPs of big frames until `done`, bounded. */
  async function feed(pub: Publication, from: number, done: () => boolean): Promise<number> {
    let i = from;
    for (let n = 0; n < 2000 && !done(); n++, i++) {
      pub.pushTag(TAG_VIDEO, i * 40, i % 10 === 0 ? key(i, 100_000) : inter(i, 100_000));
      if (n % 10 === 9) await new Promise((r) => setTimeout(r, 5));
    }
    return i;
  }

  it('drops to the next keyframe when the backlog passes the limit, and resumes with the configs once it drains', async () => {
    const { stream, pub } = source();
    pub.pushTag(TAG_VIDEO, 0, VIDEO_SEQ);
    const dest = new StreamHub();
    cleanups.push(() => dest.close());
    const srv = await pausableServer(dest);
    const { fwd } = forward(stream, srv.port, { maxBacklogBytes: 256 * 1024, slowAfterMs: 60_000 });
    await until('live', () => fwd.info.state === 'live');
    const out = dest.getLive('live', KEY)!;
    await until('the initial config arrived', () => out.videoSequenceHeader !== undefined);
    let configsSeen = 0;
    out.addTap({ onTag: (t) => void (t.type === TAG_VIDEO && t.data[1] === 0 && configsSeen++) });
    for (const s of srv.sockets) s.pause();
    let i = await feed(pub, 0, () => fwd.info.skips >= 1);
    assert.equal(fwd.info.skips, 1, 'skipping once the backlog passed the limit');
    const framesAtSkip = out.counters.videoFrames;
    for (const s of srv.sockets) s.resume();
    // Drained, the next keyframe resumes it, behind the sequence header sent again.
    i = await feed(pub, i, () => configsSeen >= 1);
    assert.equal(configsSeen, 1, 'the sequence header was sent again at the resume');
    const keyframesAtResume = out.counters.keyframes;
    await feed(pub, i, () => out.counters.keyframes > keyframesAtResume);
    assert.ok(out.counters.keyframes > keyframesAtResume, 'keyframes flow after the resume');
    assert.ok(out.counters.videoFrames > framesAtSkip);
    assert.equal(fwd.info.state, 'live');
    assert.equal(fwd.info.reconnects, 0);
  });

  it('still behind after slowAfterMs: reconnects with RC_FORWARD_SLOW', async () => {
    const { stream, pub } = source();
    pub.pushTag(TAG_VIDEO, 0, VIDEO_SEQ);
    const dest = new StreamHub();
    cleanups.push(() => dest.close());
    const srv = await pausableServer(dest);
    const { fwd } = forward(stream, srv.port, { maxBacklogBytes: 256 * 1024, slowAfterMs: 100 });
    await until('live', () => fwd.info.state === 'live');
    for (const s of srv.sockets) s.pause();
    await feed(pub, 0, () => fwd.info.lastErrorCode !== undefined);
    assert.equal(fwd.info.lastErrorCode, 'RC_FORWARD_SLOW');
    assert.ok(fwd.info.skips >= 1);
    assert.notEqual(fwd.info.state, 'live');
    assertNoKey(fwd.info);
  });
});
