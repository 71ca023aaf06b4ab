/**
 * Tracks every timer created through the global setTimeout/setInterval while installed, unref'd
 * ones included (process.getActiveResourcesInfo() does not list those, yet they still hold their
 * closures for as long as they run). `live()` says which are still pending and where they were
 * created, so a leak test can assert that a shut-down node left none behind.
 */
export interface TimerTracker {
  /** Pending timers: creation stacks (first lines below the tracker). */
  live(): string[];
  uninstall(): void;
}

export function trackTimers(): TimerTracker {
  const g = globalThis as unknown as Record<string, (...a: unknown[]) => unknown>;
  const real = {
    setTimeout: g.setTimeout!,
    setInterval: g.setInterval!,
    clearTimeout: g.clearTimeout!,
    clearInterval: g.clearInterval!,
  };
  const live = new Map<unknown, string>();
  const where = () =>
    (new Error().stack ?? '')
      .split('\n')
      .slice(3, 7)
      .map((l) => l.trim())
      .join(' < ');
  g.setTimeout = (fn: unknown, ms?: unknown, ...args: unknown[]) => {
    const t = real.setTimeout(
      (...a: unknown[]) => {
        live.delete(t);
        (fn as (...x: unknown[]) => void)(...a);
      },
      ms,
      ...args,
    );
    live.set(t, `setTimeout(${String(ms)}) at ${where()}`);
    return t;
  };
  g.setInterval = (fn: unknown, ms?: unknown, ...args: unknown[]) => {
    const t = real.setInterval(fn, ms, ...args);
    live.set(t, `setInterval(${String(ms)}) at ${where()}`);
    return t;
  };
  g.clearTimeout = (t: unknown) => {
    live.delete(t);
    return real.clearTimeout(t);
  };
  g.clearInterval = (t: unknown) => {
    live.delete(t);
    return real.clearInterval(t);
  };
  return {
    live: () => [...live.values()],
    uninstall: () => Object.assign(g, real),
  };
}
