/**
 * Turns the hub's plain counters into Prometheus series at scrape time, so the fan-out path never
 * calls prom-client. Events that are rare (first frame, skip, drop, takeover) are counted directly.
 */
import type { StreamHub } from '../media/hub/hub.ts';
import type { HubStream } from '../media/hub/stream.ts';
import type { Viewer } from '../media/hub/viewer.ts';
import type { Metrics } from './metrics.ts';

interface Snapshot {
  bytesIn: number;
  videoFrames: number;
  audioFrames: number;
  keyframes: number;
  at: number;
}

const reported = new WeakMap<Viewer, number>();

/**
 * `add(hub, { viewersOnly })` binds another hub of the same process: the all-in-one's program hub
 * (backup switching), whose streams are pulls of streams already counted, so only its viewers and
 * their events count.
 */
export interface MetricsBinding {
  refresh(): void;
  add(other: StreamHub, opts: { viewersOnly: boolean }): void;
}

export function bindHubMetrics(hub: StreamHub, metrics: Metrics): MetricsBinding {
  const hubs: { hub: StreamHub; viewersOnly: boolean }[] = [{ hub, viewersOnly: false }];
  const last = new Map<HubStream, Snapshot>();
  const labels = (s: HubStream) => metrics.streamLabels.label(s.app, s.name);

  const accountEgress = (stream: HubStream, viewer: Viewer) => {
    const before = reported.get(viewer) ?? 0;
    if (viewer.bytesSent > before) {
      metrics.egressBytes.inc({ ...labels(stream), protocol: viewer.protocol }, viewer.bytesSent - before);
      reported.set(viewer, viewer.bytesSent);
    }
  };

  const bindEvents = (h: StreamHub, viewersOnly: boolean) => {
    h.on('viewer-first-frame', (_s, v, ms) =>
      metrics.timeToFirstFrame.observe({ protocol: v.protocol }, ms / 1000),
    );
    h.on('viewer-skip', (_s, v) => metrics.viewerSkips.inc({ protocol: v.protocol }));
    h.on('viewer-leave', (s, v, reason) => {
      accountEgress(s, v);
      if (reason === 'slow' || reason === 'limit' || reason === 'kicked')
        metrics.viewerDrops.inc({ protocol: v.protocol, reason });
    });
    if (viewersOnly) return; // its streams are relays of streams counted in the first hub
    h.on('takeover', () => metrics.takeovers.inc());
    h.on('unpublish', (_s, pub, reason) => {
      if (pub.info.kind !== 'pull') metrics.streamEnds.inc({ reason });
    });
    h.on('stream-close', (s) => {
      last.delete(s);
      const l = labels(s);
      for (const g of [metrics.bitrate, metrics.frameRate, metrics.gopCacheBytes]) g.remove(l);
      metrics.streamLabels.forget(s.app, s.name);
    });
  };
  bindEvents(hub, false);

  /** A stream's publisher, viewers and counters; returns whether it has a publisher. */
  const countStream = (s: HubStream, now: number): boolean => {
    const l = labels(s);
    if (s.publisher) metrics.publishers.inc({ ...l, source: s.publisher.info.kind }, 1);
    countViewers(s);
    metrics.gopCacheBytes.set(l, s.gopCacheBytes);
    const c = s.counters;
    const prev = last.get(s);
    // Counters advance by what happened since the previous scrape; rates need a sane interval.
    if (prev) {
      metrics.ingestBytes.inc(l, c.bytesIn - prev.bytesIn);
      metrics.frames.inc({ ...l, kind: 'video' }, c.videoFrames - prev.videoFrames);
      metrics.frames.inc({ ...l, kind: 'audio' }, c.audioFrames - prev.audioFrames);
      metrics.frames.inc({ ...l, kind: 'keyframe' }, c.keyframes - prev.keyframes);
      const seconds = (now - prev.at) / 1000;
      if (seconds <= 0.5) {
        // Too close to the previous scrape for a rate: count the deltas, keep the old rate base.
        prev.bytesIn = c.bytesIn;
        prev.videoFrames = c.videoFrames;
        prev.audioFrames = c.audioFrames;
        prev.keyframes = c.keyframes;
        return !!s.publisher;
      }
      metrics.bitrate.set(l, ((c.bytesIn - prev.bytesIn) * 8) / seconds);
      metrics.frameRate.set(l, (c.videoFrames - prev.videoFrames) / seconds);
    } else {
      metrics.ingestBytes.inc(l, c.bytesIn);
      metrics.frames.inc({ ...l, kind: 'video' }, c.videoFrames);
      metrics.frames.inc({ ...l, kind: 'audio' }, c.audioFrames);
      metrics.frames.inc({ ...l, kind: 'keyframe' }, c.keyframes);
    }
    last.set(s, {
      bytesIn: c.bytesIn,
      videoFrames: c.videoFrames,
      audioFrames: c.audioFrames,
      keyframes: c.keyframes,
      at: now,
    });
    return !!s.publisher;
  };

  const countViewers = (s: HubStream) => {
    const l = labels(s);
    const byProtocol = new Map<string, number>();
    for (const v of s.viewers) {
      byProtocol.set(v.protocol, (byProtocol.get(v.protocol) ?? 0) + 1);
      accountEgress(s, v);
    }
    for (const [protocol, n] of byProtocol) metrics.viewers.inc({ ...l, protocol }, n);
  };

  const refresh = () => {
    const now = performance.now();
    metrics.viewers.reset();
    metrics.publishers.reset();
    let live = 0;
    for (const { hub: h, viewersOnly } of hubs)
      for (const s of h.list()) {
        if (viewersOnly) countViewers(s);
        else if (countStream(s, now)) live++;
      }
    metrics.streams.set(live);
  };
  const add = (other: StreamHub, opts: { viewersOnly: boolean }) => {
    hubs.push({ hub: other, viewersOnly: opts.viewersOnly });
    bindEvents(other, opts.viewersOnly);
  };
  return { refresh, add };
}
