import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeAmf0 } from '../amf/amf0.ts';
import { FlvDemuxer } from '../flv/demuxer.ts';
import { ChunkReader } from '../rtmp/chunk.ts';
import { type MediaTag, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO } from '../tag.ts';
import { StreamHub } from './hub.ts';
import type { ViewerCloseReason, ViewerSink } from './viewer.ts';

// Legacy AVC / AAC tag bodies (FLV spec E.4.2.1 / E.4.3.1): enough for the hub, which only reads headers.
const VIDEO_SEQ = Buffer.from([0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff]);
const VIDEO_SEQ_2 = Buffer.from([0x17, 0x00, 0, 0, 0, 1, 0x42, 0, 0x1e, 0xff]);
const AUDIO_SEQ = Buffer.from([0xaf, 0x00, 0x12, 0x10]);
const key = (n: number) => Buffer.from([0x17, 0x01, 0, 0, 0, n & 0xff, 1, 2, 3]);
const inter = (n: number) => Buffer.from([0x27, 0x01, 0, 0, 0, n & 0xff, 4, 5]);
const audio = (n: number) => Buffer.from([0xaf, 0x01, n & 0xff, 9, 9]);

class FakeSink implements ViewerSink {
  chunks: Buffer[] = [];
  bufferedBytes = 0;
  closed: ViewerCloseReason | undefined;
  write(chunk: Buffer) {
    this.chunks.push(chunk);
  }
  close(reason: ViewerCloseReason) {
    this.closed ??= reason;
  }
  tags(): MediaTag[] {
    const d = new FlvDemuxer();
    return d.push(Buffer.concat(this.chunks));
  }
}

const turn = () => new Promise<void>((r) => setImmediate(r));

/** Publishes a GOP every `gop` video frames at 25 fps with audio interleaved, from raw ts `start`. */
function feed(
  pub: { pushTag(t: MediaTag['type'], ts: number, d: Buffer): void },
  frames: number,
  start = 0,
  gop = 10,
) {
  for (let i = 0; i < frames; i++) {
    const ts = start + i * 40;
    pub.pushTag(TAG_VIDEO, ts, i % gop === 0 ? key(i) : inter(i));
    pub.pushTag(TAG_AUDIO, ts + 10, audio(i));
  }
}

function startPublisher(hub: StreamHub, name = 's', onEnd?: (r: string) => void) {
  const pub = hub.publish('live', name, { sessionId: name, kind: 'test' }, onEnd);
  pub.pushTag(TAG_SCRIPT, 0, Buffer.from([2, 0, 10, ...Buffer.from('onMetaData'), 5]));
  pub.pushTag(TAG_VIDEO, 0, VIDEO_SEQ);
  pub.pushTag(TAG_AUDIO, 0, AUDIO_SEQ);
  return pub;
}

describe('HubStream', () => {
  it('starts a new viewer on the cached GOP: FLV header, metadata, configs, keyframe, at ts 0', async () => {
    const hub = new StreamHub();
    const pub = startPublisher(hub);
    feed(pub, 25, 1000); // keyframes at frames 0, 10, 20 → GOP cache holds frames 20..24
    await turn();
    const sink = new FakeSink();
    hub.get('live', 's')!.addViewer(sink, { format: 'flv', protocol: 'flv' });
    const head = sink.chunks[0]!;
    assert.equal(head.subarray(0, 3).toString(), 'FLV');
    const tags = sink.tags();
    assert.deepEqual(
      tags.slice(0, 4).map((t) => t.type),
      [TAG_SCRIPT, TAG_VIDEO, TAG_AUDIO, TAG_VIDEO],
    );
    assert.deepEqual(tags[1]!.data, VIDEO_SEQ);
    assert.deepEqual(tags[2]!.data, AUDIO_SEQ);
    const firstFrame = tags.find((t) => t.type === TAG_VIDEO && t.data[1] === 1)!;
    assert.equal(firstFrame.data[0], 0x17, 'keyframe first');
    assert.equal(firstFrame.timestamp, 0, 'rebased to 0');
    hub.close();
  });

  it('merged writes: tags arriving over several turns reach a viewer in one write after mergeWriteMs', async () => {
    const hub = new StreamHub({ mergeWriteMs: 40 });
    const pub = startPublisher(hub);
    feed(pub, 10, 0);
    await new Promise((r) => setTimeout(r, 60));
    const sink = new FakeSink();
    hub.get('live', 's')!.addViewer(sink, { format: 'flv', protocol: 'flv' });
    const before = sink.chunks.length;
    const t0 = performance.now();
    for (let i = 10; i < 16; i++) {
      feed(pub, 1, i * 40); // one frame per event-loop turn
      await turn();
    }
    assert.equal(sink.chunks.length, before, 'nothing written before the merge window ends');
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(sink.chunks.length, before + 1, 'one write for the whole window');
    assert.ok(performance.now() - t0 >= 40);
    const frames = sink.tags().filter((t) => t.type === TAG_VIDEO && t.data[1] === 1);
    assert.equal(frames.length, 10 + 6, 'GOP start plus every merged frame');
    hub.close();
  });

  it('viewers joining on the same GOP share its serialised burst; a later joiner gets it extended, decoding the same', async () => {
    const hub = new StreamHub();
    const pub = startPublisher(hub);
    feed(pub, 15, 1000); // keyframes at 0 and 10: the GOP holds frames 10..14
    await turn();
    const stream = hub.get('live', 's')!;
    const a = new FakeSink();
    const b = new FakeSink();
    stream.addViewer(a, { format: 'flv-chunked', protocol: 'flv' });
    stream.addViewer(b, { format: 'flv-chunked', protocol: 'flv' });
    assert.ok(a.chunks.length >= 1);
    assert.deepEqual(a.chunks, b.chunks);
    for (const [i, c] of a.chunks.entries()) assert.equal(c, b.chunks[i], 'the same Buffer objects');
    for (let i = 0; i < 3; i++) {
      pub.pushTag(TAG_VIDEO, 1600 + i * 40, inter(15 + i)); // more frames of the same GOP
      pub.pushTag(TAG_AUDIO, 1610 + i * 40, audio(15 + i));
    }
    const c = new FakeSink();
    stream.addViewer(c, { format: 'flv-chunked', protocol: 'flv' });
    assert.equal(c.chunks[0], a.chunks[0], 'the head and first GOP part are still shared');
    // c decodes to a's start plus what a then got as live tags: the same tags either way
    await turn();
    const dechunk = (chunks: Buffer[]) => {
      const raw = Buffer.concat(chunks);
      const out: Buffer[] = [];
      for (let at = 0; at < raw.length; ) {
        const eol = raw.indexOf('\r\n', at);
        const size = Number.parseInt(raw.toString('latin1', at, eol), 16);
        out.push(raw.subarray(eol + 2, eol + 2 + size));
        at = eol + 2 + size + 2;
      }
      return new FlvDemuxer().push(Buffer.concat(out));
    };
    const strip = (tags: MediaTag[]) => tags.map((t) => `${t.type}:${t.timestamp}:${t.data.toString('hex')}`);
    assert.deepEqual(strip(dechunk(c.chunks)), strip(dechunk(a.chunks)));
    hub.close();
  });

  it('serialises once per cohort: viewers of a cohort get the very same Buffer', async () => {
    const hub = new StreamHub();
    const pub = startPublisher(hub);
    feed(pub, 5);
    await turn();
    const stream = hub.get('live', 's')!;
    const a = new FakeSink();
    const b = new FakeSink();
    stream.addViewer(a, { format: 'flv-chunked', protocol: 'flv' });
    stream.addViewer(b, { format: 'flv-chunked', protocol: 'flv' });
    assert.equal(stream.cohortCount, 1);
    a.chunks = [];
    b.chunks = [];
    feed(pub, 3, 200);
    await turn();
    assert.equal(a.chunks.length, 1, 'one write per flush');
    assert.equal(a.chunks[0], b.chunks[0], 'same Buffer object');
    // HTTP/1.1 chunk framing is inside the shared buffer
    const text = a.chunks[0]!.toString('latin1');
    const size = Number.parseInt(text.slice(0, text.indexOf('\r\n')), 16);
    assert.equal(a.chunks[0]!.length, text.indexOf('\r\n') + 2 + size + 2);
    hub.close();
  });

  it("merged writes hold viewers, not relays: a pull gets each turn's tags at once, in order, without repeats", async () => {
    const hub = new StreamHub({ mergeWriteMs: 40 });
    const pub = startPublisher(hub);
    feed(pub, 5);
    await new Promise((r) => setTimeout(r, 60));
    const stream = hub.get('live', 's')!;
    const viewer = new FakeSink();
    const relay = new FakeSink();
    stream.addViewer(viewer, { format: 'flv', protocol: 'flv' });
    stream.addViewer(relay, { format: 'flv', protocol: 'pull' });
    const before = { viewer: viewer.tags().length, relay: relay.tags().length };
    for (let turnNo = 0; turnNo < 3; turnNo++) {
      feed(pub, 1, 1000 + turnNo * 40, 100); // one inter frame + audio per turn
      await turn();
    }
    assert.equal(relay.tags().length - before.relay, 6, 'the relay got every turn at once');
    assert.equal(viewer.tags().length - before.viewer, 0, 'the viewer waits for the merge');
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(viewer.tags().length - before.viewer, 6, 'then gets the whole batch once');
    assert.equal(relay.tags().length - before.relay, 6, 'and the relay nothing twice');
    const ts = relay.tags().map((t) => t.timestamp);
    assert.deepEqual(
      ts,
      [...ts].sort((x, y) => x - y),
    );
    hub.close();
  });

  it('a viewer joining mid-window does not flush the others early, and gets every tag once', async () => {
    const hub = new StreamHub({ mergeWriteMs: 40 });
    const pub = startPublisher(hub);
    const frame = (n: number) => {
      pub.pushTag(TAG_VIDEO, n * 40, n % 10 === 0 ? key(n) : inter(n));
      pub.pushTag(TAG_AUDIO, n * 40 + 10, audio(n));
    };
    for (let n = 0; n < 13; n++) frame(n); // keyframe at 10: the GOP holds 10..12
    await new Promise((r) => setTimeout(r, 60));
    const stream = hub.get('live', 's')!;
    const a = new FakeSink();
    stream.addViewer(a, { format: 'flv', protocol: 'flv' });
    const aWrites = a.chunks.length;
    frame(13);
    frame(14); // queued for a's next merged write
    await turn();
    const b = new FakeSink();
    const relay = new FakeSink();
    stream.addViewer(b, { format: 'flv', protocol: 'flv' });
    stream.addViewer(relay, { format: 'flv', protocol: 'pull' });
    assert.equal(a.chunks.length, aWrites, 'joiners do not flush the merge window of the others');
    frame(15);
    await turn();
    frame(16);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(a.chunks.length, aWrites + 1, 'one merged write for the whole window');
    const ids = (sink: FakeSink) =>
      sink
        .tags()
        .filter((t) => t.type === TAG_VIDEO && t.data[1] === 1)
        .map((t) => t.data[5]);
    const audioIds = (sink: FakeSink) =>
      sink
        .tags()
        .filter((t) => t.type === TAG_AUDIO && t.data[1] === 1)
        .map((t) => t.data[2]);
    for (const [name, sink] of [
      ['a', a],
      ['b', b],
      ['relay', relay],
    ] as const) {
      assert.deepEqual(ids(sink), [10, 11, 12, 13, 14, 15, 16], `${name}: every frame once, in order`);
      assert.deepEqual(audioIds(sink), [10, 11, 12, 13, 14, 15, 16], `${name}: every audio frame once`);
    }
    hub.close();
  });

  it('a viewer that arrives before any keyframe waits and starts on the next one', async () => {
    const hub = new StreamHub();
    const pub = startPublisher(hub);
    pub.pushTag(TAG_VIDEO, 0, inter(1)); // no keyframe yet
    await turn();
    const sink = new FakeSink();
    const viewer = hub.get('live', 's')!.addViewer(sink, { format: 'flv', protocol: 'flv' });
    assert.equal(viewer.state, 'waiting');
    assert.equal(sink.chunks.length, 0);
    pub.pushTag(TAG_VIDEO, 40, inter(2));
    pub.pushTag(TAG_VIDEO, 80, key(3));
    pub.pushTag(TAG_VIDEO, 120, inter(4));
    await turn();
    assert.equal(viewer.state, 'live');
    const frames = sink.tags().filter((t) => t.type === TAG_VIDEO && t.data[1] === 1);
    assert.deepEqual(
      frames.map((t) => t.data[5]),
      [3, 4],
    );
    assert.equal(frames[0]!.timestamp, 0);
    hub.close();
  });

  it('a slow viewer skips to the next keyframe, then is dropped if it stays slow; others are unaffected', async () => {
    const hub = new StreamHub({
      viewerMaxBufferBytes: 1000,
      viewerHardMaxBufferBytes: 1_000_000,
      viewerDropAfterMs: 200,
    });
    const pub = startPublisher(hub);
    feed(pub, 1);
    await turn();
    const stream = hub.get('live', 's')!;
    const slow = new FakeSink();
    const fast = new FakeSink();
    let skips = 0;
    hub.on('viewer-skip', () => skips++);
    stream.addViewer(slow, { format: 'flv', protocol: 'flv' });
    stream.addViewer(fast, { format: 'flv', protocol: 'flv' });
    slow.bufferedBytes = 5000;
    feed(pub, 5, 40, 100); // inter frames only
    await turn();
    assert.equal(skips, 1);
    const slowBefore = slow.chunks.length;
    feed(pub, 3, 300, 100);
    await turn();
    assert.equal(slow.chunks.length, slowBefore, 'skipping viewer gets nothing');
    // Backlog drains: it resumes exactly at the next keyframe.
    slow.bufferedBytes = 0;
    pub.pushTag(TAG_VIDEO, 500, inter(50));
    pub.pushTag(TAG_VIDEO, 540, key(51));
    pub.pushTag(TAG_VIDEO, 580, inter(52));
    await turn();
    const resumed = Buffer.concat(slow.chunks.slice(slowBefore));
    const d = new FlvDemuxer();
    d.push(Buffer.concat(slow.chunks.slice(0, slowBefore)));
    const resumedTags = d.push(resumed);
    assert.deepEqual(
      resumedTags.filter((t) => t.type === TAG_VIDEO).map((t) => t.data[5]),
      [51, 52],
    );
    // Stays slow past viewerDropAfterMs: dropped and counted.
    slow.bufferedBytes = 5000;
    pub.pushTag(TAG_VIDEO, 620, inter(53));
    await turn();
    await new Promise((r) => setTimeout(r, 250));
    pub.pushTag(TAG_VIDEO, 660, inter(54));
    await turn();
    assert.equal(slow.closed, 'slow');
    assert.equal(stream.counters.viewerDrops, 1);
    assert.equal(fast.closed, undefined);
    const fastFrames = fast.tags().filter((t) => t.type === TAG_VIDEO && t.data[1] === 1);
    assert.ok(fastFrames.length >= 14, `fast viewer got every frame (${fastFrames.length})`);
    hub.close();
  });

  it('republish continues the timeline monotonically and resends config to connected viewers', async () => {
    const hub = new StreamHub();
    let pub = startPublisher(hub);
    feed(pub, 10, 5000);
    await turn();
    const sink = new FakeSink();
    hub.get('live', 's')!.addViewer(sink, { format: 'flv', protocol: 'flv' });
    feed(pub, 10, 5400);
    await turn();
    pub.close();
    pub = hub.publish('live', 's', { sessionId: 'two', kind: 'test' });
    pub.pushTag(TAG_VIDEO, 0, VIDEO_SEQ_2);
    feed(pub, 10, 0);
    await turn();
    const videos = sink.tags().filter((t) => t.type === TAG_VIDEO);
    for (let i = 1; i < videos.length; i++) assert.ok(videos[i]!.timestamp >= videos[i - 1]!.timestamp);
    assert.ok(
      videos.some((t) => t.data.equals(VIDEO_SEQ_2)),
      'new config reached the viewer',
    );
    hub.close();
  });

  it('takeover ends the old publication with reason takeover', async () => {
    const hub = new StreamHub();
    let ended = '';
    const a = startPublisher(hub, 's', (r) => {
      ended = r;
    });
    const b = hub.publish('live', 's', { sessionId: 'b', kind: 'test' });
    assert.equal(ended, 'takeover');
    assert.equal(a.closed, true);
    assert.equal(hub.get('live', 's')!.publisher, b);
    a.pushTag(TAG_VIDEO, 0, key(1)); // ignored: no longer the publisher
    assert.equal(hub.get('live', 's')!.counters.videoFrames, 0);
    hub.close();
  });

  it('caps cohorts: past maxCohorts new viewers join the newest compatible one', async () => {
    const hub = new StreamHub({ maxCohorts: 2 });
    const pub = startPublisher(hub);
    const stream = hub.get('live', 's')!;
    for (let g = 0; g < 4; g++) {
      feed(pub, 10, g * 400);
      await turn();
      stream.addViewer(new FakeSink(), { format: 'flv', protocol: 'flv' });
    }
    assert.equal(stream.cohortCount, 2);
    assert.equal(stream.viewers.size, 4);
    hub.close();
  });

  it('RTMP output parses back into the same messages', async () => {
    const hub = new StreamHub();
    const pub = startPublisher(hub);
    feed(pub, 3);
    await turn();
    const sink = new FakeSink();
    hub.get('live', 's')!.addViewer(sink, { format: 'rtmp', protocol: 'rtmp', rtmpStreamId: 1 });
    feed(pub, 3, 120);
    await turn();
    const reader = new ChunkReader();
    // The session announces Set Chunk Size 4096 before media; emulate that.
    const setChunk = Buffer.from([0x02, 0, 0, 0, 0, 0, 4, 0x01, 0, 0, 0, 0, 0, 0, 0x10, 0]);
    const msgs = reader.push(Buffer.concat([setChunk, ...sink.chunks]));
    const media = msgs.filter((m) => m.typeId === TAG_VIDEO || m.typeId === TAG_AUDIO);
    assert.ok(media.length >= 8);
    assert.ok(media.every((m) => m.streamId === 1));
    assert.deepEqual(media.find((m) => m.typeId === TAG_VIDEO)!.payload, VIDEO_SEQ);
    hub.close();
  });

  it('closing the stream ends every viewer with stream-ended after the republish wait', async () => {
    const hub = new StreamHub({ republishWaitMs: 50 });
    const pub = startPublisher(hub);
    feed(pub, 2);
    await turn();
    const sink = new FakeSink();
    hub.get('live', 's')!.addViewer(sink, { format: 'flv', protocol: 'flv' });
    pub.close();
    assert.equal(sink.closed, undefined, 'viewers wait for a republish');
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(sink.closed, 'stream-ended');
    assert.equal(hub.get('live', 's'), undefined);
  });
});

describe('HubStream start-up order', () => {
  it('a viewer that arrives after the first audio but before the first video waits for the keyframe', async () => {
    const hub = new StreamHub();
    const pub = hub.publish('live', 's', { sessionId: 'x', kind: 'test' });
    pub.pushTag(TAG_AUDIO, 0, AUDIO_SEQ);
    pub.pushTag(TAG_AUDIO, 10, audio(1));
    await turn();
    const sink = new FakeSink();
    const viewer = hub.get('live', 's')!.addViewer(sink, { format: 'flv', protocol: 'flv' });
    assert.equal(viewer.state, 'waiting', 'audio came first, but video may follow');
    pub.pushTag(TAG_VIDEO, 20, VIDEO_SEQ);
    pub.pushTag(TAG_VIDEO, 40, key(1));
    await turn();
    const videos = sink.tags().filter((t) => t.type === TAG_VIDEO);
    assert.deepEqual(videos[0]!.data, VIDEO_SEQ, 'video config first');
    assert.equal(videos[1]!.data[0], 0x17, 'then a keyframe');
    hub.close();
  });

  it('an audio-only stream (by metadata, or after ~1 s of audio alone) starts viewers at once', async () => {
    const hub = new StreamHub();
    const pub = hub.publish('live', 'a', { sessionId: 'x', kind: 'test' });
    pub.pushTag(TAG_AUDIO, 0, AUDIO_SEQ);
    for (let i = 0; i < 60; i++) pub.pushTag(TAG_AUDIO, i * 23, audio(i));
    await turn();
    const viewer = hub.get('live', 'a')!.addViewer(new FakeSink(), { format: 'flv', protocol: 'flv' });
    assert.equal(viewer.state, 'live');
    hub.close();
  });

  it('an audio-only joiner mid-window gets only what comes after it, timestamps from 0', async () => {
    const hub = new StreamHub({ mergeWriteMs: 40 });
    const pub = hub.publish('live', 'a', { sessionId: 'x', kind: 'test' });
    pub.pushTag(TAG_AUDIO, 0, AUDIO_SEQ);
    for (let i = 0; i < 60; i++) pub.pushTag(TAG_AUDIO, i * 23, audio(i));
    await new Promise((r) => setTimeout(r, 60));
    pub.pushTag(TAG_AUDIO, 60 * 23, audio(60));
    pub.pushTag(TAG_AUDIO, 61 * 23, audio(61)); // queued: older than the joiner's start
    const sink = new FakeSink();
    hub.get('live', 'a')!.addViewer(sink, { format: 'flv', protocol: 'flv' });
    pub.pushTag(TAG_AUDIO, 62 * 23, audio(62));
    await new Promise((r) => setTimeout(r, 60));
    const frames = sink.tags().filter((t) => t.type === TAG_AUDIO && t.data[1] === 1);
    assert.deepEqual(
      frames.map((t) => t.data[2]),
      [62],
    );
    assert.ok(frames[0]!.timestamp >= 0 && frames[0]!.timestamp < 100, `ts ${frames[0]!.timestamp}`);
    hub.close();
  });
});

describe('HubStream: a new publisher with other tracks', () => {
  /** FLV header TypeFlags (FLV spec E.2): 0x04 audio, 0x01 video. */
  const flvFlags = (sink: FakeSink) => sink.chunks[0]![4]!;

  async function avThen(): Promise<{ hub: StreamHub; old: FakeSink }> {
    const hub = new StreamHub();
    const pub = startPublisher(hub);
    feed(pub, 20, 0);
    await turn();
    const old = new FakeSink();
    hub.get('live', 's')!.addViewer(old, { format: 'flv', protocol: 'flv' });
    assert.equal(flvFlags(old), 0x05, 'A/V header');
    pub.close();
    return { hub, old };
  }

  it('A/V → video-only: new viewers get a video-only header and no old AAC config', async () => {
    const { hub, old } = await avThen();
    const pub = hub.publish('live', 's', { sessionId: 'v', kind: 'test' });
    pub.pushTag(TAG_VIDEO, 0, VIDEO_SEQ_2);
    for (let i = 0; i < 10; i++) pub.pushTag(TAG_VIDEO, i * 40, i === 0 ? key(i) : inter(i));
    await turn();
    const stream = hub.get('live', 's')!;
    assert.equal(stream.hasAudio, false);
    const sink = new FakeSink();
    const viewer = stream.addViewer(sink, { format: 'flv', protocol: 'flv' });
    assert.equal(viewer.state, 'live');
    assert.equal(flvFlags(sink), 0x01, 'video-only header');
    const tags = sink.tags();
    assert.equal(tags.filter((t) => t.type === TAG_AUDIO).length, 0, 'no audio config or frames');
    assert.deepEqual(tags.find((t) => t.type === TAG_VIDEO)!.data, VIDEO_SEQ_2, 'the new video config');
    assert.equal(old.closed, undefined, 'the connected viewer continues');
    assert.ok(
      old.tags().some((t) => t.data.equals(VIDEO_SEQ_2)),
      'and gets the new config in-band',
    );
    hub.close();
  });

  it('A/V → audio-only: new viewers start at once on audio with an audio-only header', async () => {
    const { hub, old } = await avThen();
    const pub = hub.publish('live', 's', { sessionId: 'a', kind: 'test' });
    // ffmpeg -vn: onMetaData names an audio codec and no video
    const meta = encodeAmf0(['onMetaData', { audiocodecid: 10, audiosamplerate: 44100 }]);
    pub.pushTag(TAG_SCRIPT, 0, meta);
    pub.pushTag(TAG_AUDIO, 0, AUDIO_SEQ);
    for (let i = 0; i < 5; i++) pub.pushTag(TAG_AUDIO, i * 23, audio(i));
    await turn();
    const stream = hub.get('live', 's')!;
    assert.equal(stream.hasVideo, false);
    const sink = new FakeSink();
    const viewer = stream.addViewer(sink, { format: 'flv', protocol: 'flv' });
    assert.equal(viewer.state, 'live', 'no wait for a video keyframe that never comes');
    assert.equal(flvFlags(sink), 0x04, 'audio-only header');
    pub.pushTag(TAG_AUDIO, 200, audio(9));
    await turn();
    const tags = sink.tags();
    assert.equal(tags.filter((t) => t.type === TAG_VIDEO).length, 0, 'no old video config');
    assert.ok(
      tags.some((t) => t.type === TAG_AUDIO && t.data[1] === 1),
      'audio frames flow',
    );
    assert.equal(old.closed, undefined);
    hub.close();
  });
});

describe('HubStream: slow viewers are judged on drain rate over time, with credit for the join burst', () => {
  /** A viewer connection that takes `bytesPerMs` from its backlog as the fake clock advances. */
  class DrainingSink implements ViewerSink {
    private queued = 0;
    private at: number;
    maxBacklog = 0;
    received = 0;
    closed: ViewerCloseReason | undefined;
    private readonly clock: { t: number };
    private readonly bytesPerMs: number;
    constructor(clock: { t: number }, bytesPerMs: number) {
      this.clock = clock;
      this.bytesPerMs = bytesPerMs;
      this.at = clock.t;
    }
    get bufferedBytes(): number {
      this.queued = Math.max(0, this.queued - (this.clock.t - this.at) * this.bytesPerMs);
      this.at = this.clock.t;
      return this.queued;
    }
    write(chunk: Buffer) {
      this.queued = this.bufferedBytes + chunk.length;
      this.received += chunk.length;
      this.maxBacklog = Math.max(this.maxBacklog, this.queued);
    }
    close(reason: ViewerCloseReason) {
      this.closed ??= reason;
    }
  }

  const FRAME_MS = 40; // 25 fps
  const FRAME_BYTES = 50_000; // × 25 fps = 1.25 MB/s = 10 Mbit/s
  const GOP_FRAMES = 200; // an 8 s GOP: 10 MB cached for a joiner
  const frame = (i: number) => {
    const b = Buffer.alloc(FRAME_BYTES, 0x5a);
    b.set(i % GOP_FRAMES === 0 ? key(i) : inter(i));
    return b;
  };
  const mbitToBytesPerMs = (mbit: number) => (mbit * 1_000_000) / 8 / 1000;

  /** 10 Mbit/s stream; a viewer joins on a full 10 MB GOP and watches `watchFrames` more frames. */
  async function joinBigGop(linkMbit: number, watchFrames: number) {
    const clock = { t: 0 };
    const hub = new StreamHub({}, { now: () => clock.t });
    const pub = hub.publish('live', 'big', { sessionId: 'big', kind: 'test' });
    pub.pushTag(TAG_VIDEO, 0, VIDEO_SEQ);
    let i = 0;
    const step = async () => {
      clock.t = i * FRAME_MS;
      pub.pushTag(TAG_VIDEO, i * FRAME_MS, frame(i));
      i++;
      await turn();
    };
    while (i < GOP_FRAMES) await step();
    const stream = hub.get('live', 'big')!;
    assert.ok(stream.gopCacheBytes >= 9_900_000, `a 10 MB GOP is cached (${stream.gopCacheBytes})`);
    const sink = new DrainingSink(clock, mbitToBytesPerMs(linkMbit));
    const viewer = stream.addViewer(sink, { format: 'flv', protocol: 'flv' });
    assert.ok(sink.received >= 9_900_000, 'the joiner got the whole GOP at once');
    for (let k = 0; k < watchFrames && !sink.closed; k++) await step();
    return { hub, stream, sink, viewer };
  }

  it('keeps a 10 MB GOP joiner that drains at 100 Mbit/s a 10 Mbit/s stream', async () => {
    const { hub, stream, sink, viewer } = await joinBigGop(100, 500); // 20 s
    assert.equal(sink.closed, undefined, 'not dropped');
    assert.equal(viewer.skips, 0, 'never skipped');
    assert.equal(stream.counters.viewerSkips + stream.counters.viewerDrops, 0);
    assert.equal(viewer.state, 'live');
    assert.ok(sink.bufferedBytes < 2 * FRAME_BYTES, 'caught up with the live edge');
    assert.equal(viewer.burstBytes, 0, 'burst credit used up once caught up');
    hub.close();
  });

  it('keeps a joiner that drains only a little faster than the stream (12 Mbit/s) while its backlog shrinks', async () => {
    const { hub, sink, viewer } = await joinBigGop(12, 250); // 10 s: the 10 MB burst is still draining
    assert.equal(sink.closed, undefined);
    assert.equal(viewer.skips, 0);
    assert.ok(sink.bufferedBytes > 2 * 1024 * 1024, 'still behind, but catching up');
    hub.close();
  });

  it('skips a joiner whose link is slower than the stream (5 Mbit/s for 10 Mbit/s), with its memory bounded', async () => {
    const { hub, stream, sink, viewer } = await joinBigGop(5, 150);
    assert.ok(viewer.skips >= 1 || sink.closed === 'slow', 'skipped or dropped');
    assert.ok(stream.counters.viewerSkips >= 1);
    const limits = hub.limits;
    assert.ok(
      sink.maxBacklog <= limits.viewerHardMaxBufferBytes + GOP_FRAMES * (FRAME_BYTES + 15) + 1000,
      `backlog stayed within the hard limit plus the burst (${sink.maxBacklog})`,
    );
    hub.close();
  });
});
