/**
 * Blocking playlist reload (RFC 8216bis-16 6.2.5.2) and blocking preload-hint requests (6.2.6):
 * when a request asks for a part that does not exist yet, the server holds it until it does.
 *
 * - `_HLS_msn=M`: hold until segment M is complete; with `_HLS_part=P`, until part P of segment
 *   M exists. A P past the last part of a complete segment M means part 0 of M + 1.
 * - `_HLS_part` without `_HLS_msn`, or values that are not integers: 400.
 * - M more than two segments past the last one in the playlist, or P more than the Advance Part
 *   Limit (3 / PART-TARGET in seconds, for targets under 1 s) past the last part: 400 at once.
 * - Not satisfied within three target durations: 503.
 * - An ended stream answers at once (the playlist says ENDLIST).
 *
 * Pure decisions (decideBlockingReload, decidePartRequest) plus a waiter list driven by an
 * injected timer, so the whole state machine runs on a fake clock in tests.
 */
import type { LlPosition } from './ll-segmenter.ts';

export interface BlockingRequest {
  msn: number;
  part: number | undefined;
}

export type BlockingDecision = { kind: 'ready' } | { kind: 'wait' } | { kind: 'bad-request'; reason: string };

/** Parses _HLS_msn / _HLS_part; undefined when the request does not block, a string when it is bad. */
export function parseBlockingQuery(query: URLSearchParams): BlockingRequest | string | undefined {
  const msn = query.get('_HLS_msn');
  const part = query.get('_HLS_part');
  if (msn === null) return part === null ? undefined : '_HLS_part needs _HLS_msn';
  const int = (v: string) => (/^\d{1,15}$/.test(v) ? Number(v) : undefined);
  const m = int(msn);
  if (m === undefined) return `_HLS_msn=${msn.slice(0, 20)} is not a non-negative integer`;
  if (part === null) return { msn: m, part: undefined };
  const p = int(part);
  if (p === undefined) return `_HLS_part=${part.slice(0, 20)} is not a non-negative integer`;
  return { msn: m, part: p };
}

/** 6.2.5.2 Advance Part Limit. */
export function advancePartLimit(partTargetMs: number): number {
  return partTargetMs < 1000 ? Math.floor(3 / (partTargetMs / 1000)) : 3;
}

export function decideBlockingReload(
  pos: LlPosition,
  req: BlockingRequest,
  partTargetMs: number,
): BlockingDecision {
  if (pos.ended) return { kind: 'ready' };
  // The last segment in the playlist is the one being built (its parts are listed).
  if (req.msn > pos.openSequence + 2)
    return {
      kind: 'bad-request',
      reason: `_HLS_msn=${req.msn} is more than two segments past the playlist's last (${pos.openSequence})`,
    };
  let { msn, part } = req;
  if (msn < pos.openSequence && part !== undefined) {
    const count = pos.partsOf(msn);
    // Past the last part of a complete segment: part 0 of the next one.
    if (count !== undefined && part >= count) {
      msn++;
      part = 0;
    }
  }
  if (msn < pos.openSequence) return { kind: 'ready' };
  if (part === undefined) return { kind: 'wait' };
  if (msn === pos.openSequence) {
    if (part < pos.openParts) return { kind: 'ready' };
    if (part > pos.openParts - 1 + advancePartLimit(partTargetMs))
      return {
        kind: 'bad-request',
        reason: `_HLS_part=${part} is more than the advance part limit past the last part (${pos.openParts - 1})`,
      };
  }
  return { kind: 'wait' };
}

/**
 * A part request (a preload hint, or a part a player computed): `ready` when it exists, `wait`
 * when it is the next part or the first of the next segment(s) within reach, `gone` otherwise.
 */
export function decidePartRequest(
  pos: LlPosition,
  exists: boolean,
  sequence: number,
  index: number,
  partTargetMs: number,
): 'ready' | 'wait' | 'gone' {
  if (exists) return 'ready';
  if (pos.ended) return 'gone';
  if (sequence === pos.openSequence && index >= pos.openParts)
    return index - pos.openParts < advancePartLimit(partTargetMs) ? 'wait' : 'gone';
  if (sequence === pos.openSequence + 1 && index === 0) return 'wait';
  return 'gone';
}

export interface BlockingTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const REAL_TIMERS: BlockingTimers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface Waiter {
  ready: () => boolean;
  resolve: (ok: boolean) => void;
  timer: unknown;
}

/**
 * Requests held until a condition holds. notify() (after every new part, the end of the stream,
 * or the stream's removal) settles those whose condition is met; the rest settle with false at
 * their timeout. Bounded: past `maxWaiters`, new waits settle false at once.
 */
export class BlockingWaiters {
  private readonly timers: BlockingTimers;
  private readonly waiters = new Set<Waiter>();
  private readonly maxWaiters: number;

  constructor(timers: BlockingTimers = REAL_TIMERS, maxWaiters = 100_000) {
    this.timers = timers;
    this.maxWaiters = maxWaiters;
  }

  get size(): number {
    return this.waiters.size;
  }

  /** Resolves true once `ready()` holds (checked now and at every notify), false after `timeoutMs`. */
  wait(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    if (this.waiters.size >= this.maxWaiters) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const w: Waiter = { ready, resolve, timer: undefined };
      w.timer = this.timers.setTimeout(() => {
        this.waiters.delete(w);
        resolve(false);
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  notify(): void {
    for (const w of [...this.waiters]) {
      if (!w.ready()) continue;
      this.waiters.delete(w);
      this.timers.clearTimeout(w.timer);
      w.resolve(true);
    }
  }

  /** Settles every waiter now (true: let them re-check and answer; the stream went away). */
  releaseAll(): void {
    for (const w of [...this.waiters]) {
      this.waiters.delete(w);
      this.timers.clearTimeout(w.timer);
      w.resolve(w.ready());
    }
  }
}
