/**
 * What the admin API and the registry say about a stream: codecs, resolution, frame rate,
 * bitrates, viewers by protocol, uptime. Rates come from one process-wide sampler (every 2 s), never
 * from per-viewer work.
 */

import {
  describeAudioTag,
  describeVideoSequenceHeader,
  type StreamCodecInfo,
} from '../media/codec/describe.ts';
import type { StreamHub } from '../media/hub/hub.ts';
import type { HubStream } from '../media/hub/stream.ts';

export interface StreamInfo {
  app: string;
  name: string;
  live: boolean;
  publisher?: { sessionId: string; kind: string; remote?: string; startedAt: string };
  codecs: StreamCodecInfo;
  video?: {
    codec: string;
    width?: number;
    height?: number;
    frameRate?: number;
    profile?: string;
    level?: number;
  };
  audio?: { codec: string; sampleRateHz?: number; channels?: number; profile?: string };
  fps: number;
  ingestKbps: number;
  egressKbps: number;
  viewers: { total: number; flv: number; rtmp: number; pull: number; webrtc: number };
  uptimeSeconds: number;
  gopCacheBytes: number;
  counters: HubStream['counters'];
}

interface Rate {
  at: number;
  bytesIn: number;
  bytesOut: number;
  videoFrames: number;
  fps: number;
  ingestKbps: number;
  egressKbps: number;
}

export class StreamStatsSampler {
  private readonly hub: StreamHub;
  private readonly rates = new WeakMap<HubStream, Rate>();
  private readonly codecCache = new WeakMap<
    HubStream,
    { version: number; info: StreamCodecInfo; audioKey?: Buffer }
  >();
  private timer: NodeJS.Timeout | undefined;

  constructor(hub: StreamHub, periodMs = 2000) {
    this.hub = hub;
    this.timer = setInterval(() => this.sample(), periodMs);
    this.timer.unref();
  }

  private sample(): void {
    const now = performance.now();
    for (const s of this.hub.list()) {
      const c = s.counters;
      const prev = this.rates.get(s);
      if (!prev) {
        this.rates.set(s, {
          at: now,
          bytesIn: c.bytesIn,
          bytesOut: c.bytesOut,
          videoFrames: c.videoFrames,
          fps: 0,
          ingestKbps: 0,
          egressKbps: 0,
        });
        continue;
      }
      const sec = (now - prev.at) / 1000;
      if (sec <= 0) continue;
      this.rates.set(s, {
        at: now,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        videoFrames: c.videoFrames,
        fps: Math.round(((c.videoFrames - prev.videoFrames) / sec) * 100) / 100,
        ingestKbps: Math.round(((c.bytesIn - prev.bytesIn) * 8) / sec / 1000),
        egressKbps: Math.round(((c.bytesOut - prev.bytesOut) * 8) / sec / 1000),
      });
    }
  }

  codecs(s: HubStream): StreamCodecInfo {
    const cached = this.codecCache.get(s);
    if (cached && cached.version === s.configVersion && (cached.info.audio || !s.hasAudio))
      return cached.info;
    const info: StreamCodecInfo = {};
    try {
      if (s.videoSequenceHeader) info.video = describeVideoSequenceHeader(s.videoSequenceHeader.data);
    } catch {
      info.video = { codec: 'unknown' };
    }
    try {
      const audioTag = s.audioSequenceHeader ?? s.lastAudioTag;
      if (audioTag) info.audio = describeAudioTag(audioTag.data);
    } catch {
      info.audio = { codec: 'unknown' };
    }
    this.codecCache.set(s, { version: s.configVersion, info });
    return info;
  }

  describe(s: HubStream): StreamInfo {
    const rate = this.rates.get(s);
    const viewers = { total: s.viewers.size, flv: 0, rtmp: 0, pull: 0, webrtc: 0 };
    for (const v of s.viewers) viewers[v.protocol]++;
    const codecs = this.codecs(s);
    const pub = s.publisher;
    return {
      app: s.app,
      name: s.name,
      live: s.live,
      ...(pub
        ? {
            publisher: {
              sessionId: pub.info.sessionId,
              kind: pub.info.kind,
              ...(pub.info.remote ? { remote: pub.info.remote } : {}),
              startedAt: new Date(pub.startedAt).toISOString(),
            },
          }
        : {}),
      codecs,
      ...(codecs.video ? { video: codecs.video } : {}),
      ...(codecs.audio ? { audio: codecs.audio } : {}),
      fps: rate?.fps ?? 0,
      ingestKbps: rate?.ingestKbps ?? 0,
      egressKbps: rate?.egressKbps ?? 0,
      viewers,
      uptimeSeconds: Math.round((Date.now() - (pub?.startedAt ?? s.createdAt)) / 1000),
      gopCacheBytes: s.gopCacheBytes,
      counters: { ...s.counters },
    };
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
