/**
 * Bytes per second of an ever-growing byte count (bytes a publisher sent, bytes a viewer's
 * connection drained) over a sliding window. Samples are taken whenever the caller is there anyway
 * (each hub flush); at most one per `windowMs / slots` is kept, so the cost per sample is O(1) and
 * the memory fixed.
 */
export class RateMeter {
  readonly windowMs: number;
  private readonly spacingMs: number;
  private readonly times: Float64Array;
  private readonly totals: Float64Array;
  /** Index of the oldest sample. */
  private first = 0;
  private count = 0;

  constructor(windowMs: number, slots = 4) {
    this.windowMs = windowMs;
    this.spacingMs = windowMs / slots;
    this.times = new Float64Array(slots + 1);
    this.totals = new Float64Array(slots + 1);
  }

  sample(nowMs: number, totalBytes: number): void {
    const n = this.times.length;
    if (this.count > 0) {
      const last = (this.first + this.count - 1) % n;
      if (nowMs - this.times[last]! < this.spacingMs) return;
    }
    if (this.count === n) {
      this.first = (this.first + 1) % n;
      this.count--;
    }
    const at = (this.first + this.count) % n;
    this.times[at] = nowMs;
    this.totals[at] = totalBytes;
    this.count++;
  }

  /** Bytes per second across the samples held, or -1 while they span less than half the window. */
  get bytesPerSecond(): number {
    if (this.count < 2) return -1;
    const n = this.times.length;
    const last = (this.first + this.count - 1) % n;
    const spanMs = this.times[last]! - this.times[this.first]!;
    if (spanMs < this.windowMs / 2) return -1;
    return ((this.totals[last]! - this.totals[this.first]!) * 1000) / spanMs;
  }
}
