import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MediaError } from './errors.ts';
import { StreamHub } from './hub/hub.ts';
import type { PublicationEndReason } from './hub/stream.ts';
import type { ViewerCloseReason, ViewerSink } from './hub/viewer.ts';
import { InvalidStateError, Lifecycle } from './lifecycle.ts';
import { TAG_VIDEO } from './tag.ts';

class Sink implements ViewerSink {
  bufferedBytes = 0;
  closedWith: ViewerCloseReason[] = [];
  write() {}
  close(reason: ViewerCloseReason) {
    this.closedWith.push(reason);
  }
}

type R = 'a' | 'b' | 'parent-gone';
class Thing extends Lifecycle<R, { ping: [number] }> {
  torn = 0;
  readonly log: string[];
  readonly label: string;
  constructor(log: string[], label: string) {
    super();
    this.log = log;
    this.label = label;
  }
  protected override onClose(reason: R): void {
    this.torn++;
    this.log.push(`${this.label}:${reason}`);
  }
  adopt(child: Thing): Thing {
    return this.own(child, (): R => 'parent-gone');
  }
  work(): void {
    this.assertOpen(`thing ${this.label}`);
  }
}

describe('Lifecycle', () => {
  it('close is idempotent, keeps the first reason and emits one typed close event', () => {
    const t = new Thing([], 't');
    const events: R[] = [];
    t.on('close', (r) => events.push(r));
    assert.equal(t.closed, false);
    assert.equal(t.closeReason, undefined);
    t.close('a');
    t.close('b');
    assert.equal(t.closed, true);
    assert.equal(t.closeReason, 'a');
    assert.equal(t.torn, 1);
    assert.deepEqual(events, ['a']);
  });

  it('use after close throws InvalidStateError with code RC_INVALID_STATE', () => {
    const t = new Thing([], 't');
    t.work();
    t.close('b');
    assert.throws(
      () => t.work(),
      (err: unknown) =>
        err instanceof InvalidStateError &&
        err instanceof MediaError &&
        err.code === 'RC_INVALID_STATE' &&
        err.closeReason === 'b' &&
        /thing t is closed \(b\)/.test(err.message),
    );
  });

  it('a parent closes its children after its own teardown and before its close event', () => {
    const log: string[] = [];
    const parent = new Thing(log, 'p');
    const c1 = parent.adopt(new Thing(log, 'c1'));
    const c2 = parent.adopt(new Thing(log, 'c2'));
    parent.on('close', () => log.push('p:event'));
    c1.close('a'); // closes first: the parent forgets it
    parent.close('b');
    assert.deepEqual(log, ['c1:a', 'p:b', 'c2:parent-gone', 'p:event']);
    assert.equal(c2.closeReason, 'parent-gone');
    // A child adopted by a closed parent is closed at once.
    const late = parent.adopt(new Thing(log, 'late'));
    assert.equal(late.closed, true);
  });
});

describe('hub objects follow the lifecycle', () => {
  it('Viewer.close detaches it from its stream and closes its sink once', () => {
    const hub = new StreamHub();
    const pub = hub.publish('live', 's', { sessionId: 'p', kind: 'test' });
    const stream = pub.stream;
    const sink = new Sink();
    const viewer = stream.addViewer(sink, { format: 'flv', protocol: 'flv' });
    const seen: ViewerCloseReason[] = [];
    viewer.on('close', (r) => seen.push(r));
    const leaves: string[] = [];
    stream.on('viewer-leave', (_v, r) => leaves.push(r));
    viewer.close('client-gone');
    viewer.close('kicked');
    assert.equal(viewer.closed, true);
    assert.equal(viewer.closeReason, 'client-gone');
    assert.equal(viewer.state, 'closed');
    assert.equal(stream.viewers.size, 0);
    assert.deepEqual(sink.closedWith, ['client-gone']);
    assert.deepEqual(seen, ['client-gone']);
    assert.deepEqual(leaves, ['client-gone']);
    // removeViewer is the same close.
    const v2 = stream.addViewer(new Sink(), { format: 'flv', protocol: 'flv' });
    stream.removeViewer(v2, 'kicked');
    assert.equal(v2.closeReason, 'kicked');
    hub.close();
  });

  it('Publication: close (owner) detaches; revoke (stream) tells the owner; both end in one closed state', () => {
    const hub = new StreamHub();
    const revoked: PublicationEndReason[] = [];
    const first = hub.publish('live', 's', { sessionId: '1', kind: 'test' }, (r) => revoked.push(r));
    const closes: PublicationEndReason[] = [];
    first.on('close', (r) => closes.push(r));
    const second = hub.publish('live', 's', { sessionId: '2', kind: 'test' }, (r) => revoked.push(r));
    assert.equal(first.closed, true);
    assert.equal(first.closeReason, 'takeover');
    assert.deepEqual(revoked, ['takeover']);
    assert.deepEqual(closes, ['takeover']);
    // A closed publication's tags are ignored, the stream keeps the new one.
    first.pushTag(TAG_VIDEO, 0, Buffer.from([0x17, 1, 0, 0, 0]));
    assert.equal(second.stream.publisher, second);
    // The owner closes: no revoke callback, the stream lets it go.
    second.close('unpublish');
    assert.deepEqual(revoked, ['takeover']);
    assert.equal(second.closeReason, 'unpublish');
    assert.equal(second.stream.publisher, undefined);
    hub.close();
  });

  it('stream close cascades to publication and viewers with reasons; attach/addViewer then throw RC_INVALID_STATE', () => {
    const hub = new StreamHub();
    const revoked: PublicationEndReason[] = [];
    const pub = hub.publish('live', 's', { sessionId: 'p', kind: 'test' }, (r) => revoked.push(r));
    const stream = pub.stream;
    const viewers = Array.from({ length: 5 }, () =>
      stream.addViewer(new Sink(), { format: 'flv', protocol: 'flv' }),
    );
    const streamCloses: ViewerCloseReason[] = [];
    stream.on('close', (r) => streamCloses.push(r));
    const unpublished: PublicationEndReason[] = [];
    hub.on('unpublish', (_s, _p, r) => unpublished.push(r));
    hub.close();
    assert.equal(stream.closed, true);
    assert.equal(stream.closeReason, 'shutdown');
    assert.deepEqual(streamCloses, ['shutdown']);
    assert.equal(pub.closeReason, 'closed');
    assert.deepEqual(revoked, ['closed']);
    assert.deepEqual(unpublished, ['closed']);
    for (const v of viewers) assert.equal(v.closeReason, 'shutdown');
    assert.throws(() => stream.attach({ sessionId: 'x', kind: 'test' }), { code: 'RC_INVALID_STATE' });
    assert.throws(() => stream.addViewer(new Sink(), { format: 'flv', protocol: 'flv' }), {
      code: 'RC_INVALID_STATE',
    });
  });

  it('a stream closed for another reason than shutdown reports its publication kicked, in the event too', () => {
    const hub = new StreamHub();
    const pub = hub.publish('live', 's', { sessionId: 'p', kind: 'test' });
    const unpublished: PublicationEndReason[] = [];
    hub.on('unpublish', (_s, _p, r) => unpublished.push(r));
    pub.stream.close('stream-ended');
    assert.equal(pub.closeReason, 'kicked');
    assert.deepEqual(unpublished, ['kicked']);
    hub.close();
  });

  it('kickPublisher revokes with the kick reason', () => {
    const hub = new StreamHub();
    const revoked: PublicationEndReason[] = [];
    const pub = hub.publish('live', 's', { sessionId: 'p', kind: 'test' }, (r) => revoked.push(r));
    assert.equal(pub.stream.kickPublisher('kicked'), true);
    assert.equal(pub.closeReason, 'kicked');
    assert.deepEqual(revoked, ['kicked']);
    hub.close();
  });
});
