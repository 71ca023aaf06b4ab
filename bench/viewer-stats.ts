import { benchArgs } from './args.ts';

/**
 * The command line every swarm takes: --url (required) --viewers --ramp --duration --stall-ms,
 * plus its own `extra` options (string-valued). Exits with the usage line when --url is missing.
 */
export function swarmArgs(usage: string, extra: Record<string, { type: 'string'; default?: string }>) {
  const values = benchArgs(process.argv[1] ?? 'swarm', `usage: ${usage}`, {
    url: { type: 'string' },
    viewers: { type: 'string', default: '200' },
    ramp: { type: 'string', default: '2' },
    duration: { type: 'string', default: '10' },
    'stall-ms': { type: 'string', default: '2000' },
    ...extra,
  }).values as Record<string, string | undefined>;
  if (!values.url) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  return {
    values,
    url: new URL(values.url),
    viewers: Number(values.viewers),
    rampMs: Number(values.ramp) * 1000,
    durationMs: Number(values.duration) * 1000,
    stallMs: Number(values['stall-ms']),
  };
}

/**
 * Starts `count` clients spread evenly over `rampMs` from `t0` (all at once when 0), calling
 * `start(i)` for each; returns the timer (it clears itself once all have started).
 */
export function rampUp(
  count: number,
  rampMs: number,
  t0: number,
  start: (i: number) => void,
): NodeJS.Timeout {
  let started = 0;
  const timer = setInterval(() => {
    const target =
      rampMs > 0 ? Math.min(count, Math.ceil(((performance.now() - t0) / rampMs) * count)) : count;
    while (started < target) start(started++);
    if (started >= count) clearInterval(timer);
  }, 20);
  return timer;
}

/**
 * What the viewer swarms measure per viewer, and the one summary they all print (HTTP-FLV and RTMP
 * swarms report the same figures, so their JSON lines compare field by field).
 */

export interface ViewerStats {
  startedAt: number;
  connectMs?: number;
  /** Until the server said "playing" (RTMP: NetStream.Play.Start; HTTP: the 200 header). */
  playStartMs?: number;
  firstKeyframeMs?: number;
  firstVideoWasKeyframe?: boolean;
  bytes: number;
  firstTagWall?: number;
  firstTagTs?: number;
  maxLagMs: number;
  lastLagMs: number;
  lastDataAt: number;
  failed?: string;
  ended: boolean;
  slow: boolean;
}

export function newViewer(slow: boolean): ViewerStats {
  const now = performance.now();
  return { startedAt: now, bytes: 0, maxLagMs: 0, lastLagMs: 0, lastDataAt: now, ended: false, slow };
}

/** A video frame (not a sequence header) arrived at `now` with media timestamp `timestamp`. */
export function onVideoFrame(v: ViewerStats, now: number, timestamp: number, keyframe: boolean): void {
  if (keyframe && v.firstKeyframeMs === undefined) v.firstKeyframeMs = now - v.startedAt;
  if (v.firstTagWall === undefined) {
    v.firstTagWall = now;
    v.firstTagTs = timestamp;
    v.firstVideoWasKeyframe = keyframe;
    return;
  }
  // lag = wall time elapsed − media time elapsed (positive when behind real time)
  const lag = now - v.firstTagWall - (timestamp - v.firstTagTs!);
  v.lastLagMs = lag;
  if (lag > v.maxLagMs) v.maxLagMs = lag;
}

export function percentile(xs: number[], p: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! * 10) / 10;
}

const defined = (xs: (number | undefined)[]): number[] => xs.filter((x): x is number => x !== undefined);

/**
 * "Healthy" viewers (not the deliberately slow ones) fail when refused or closed, and stall when
 * silent or more than `stallMs` behind real time at the end.
 */
export function summarise(
  stats: ViewerStats[],
  o: { viewers: number; slowCount: number; stallMs: number; t0: number; now: number },
): Record<string, unknown> {
  const { now } = o;
  const healthy = stats.filter((v) => !v.slow);
  const failed = healthy.filter((v) => v.failed || v.ended);
  const stalled = healthy.filter(
    (v) => !v.failed && (now - v.lastDataAt > o.stallMs || v.lastLagMs > o.stallMs),
  );
  const elapsed = (now - o.t0) / 1000;
  const bytes = stats.reduce((a, v) => a + v.bytes, 0);
  const ttfk = defined(healthy.map((v) => v.firstKeyframeMs));
  return {
    viewers: o.viewers,
    slowViewers: o.slowCount,
    connected: stats.filter((v) => v.connectMs !== undefined).length,
    failed: failed.length,
    failures: [...new Set(failed.map((v) => v.failed ?? 'closed by server'))].slice(0, 5),
    stalled: stalled.length,
    startedOnKeyframe: healthy.filter((v) => v.firstVideoWasKeyframe).length,
    slowDropped: stats.filter((v) => v.slow && v.ended).length,
    connectMsP50: percentile(defined(healthy.map((v) => v.connectMs)), 50),
    playStartMsP50: percentile(defined(healthy.map((v) => v.playStartMs)), 50),
    ttfkMsP50: percentile(ttfk, 50),
    ttfkMsP95: percentile(ttfk, 95),
    lagMsP50: percentile(
      healthy.map((v) => v.lastLagMs),
      50,
    ),
    lagMsP99: percentile(
      healthy.map((v) => v.lastLagMs),
      99,
    ),
    lagMsMax: Math.round(Math.max(0, ...healthy.map((v) => v.maxLagMs))),
    throughputMbps: Math.round(((bytes * 8) / elapsed / 1e6) * 10) / 10,
  };
}
